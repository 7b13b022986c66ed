"""`python -m local_stack.demo` (`make demo`): the seed's system test, told step by step.

Against a running stack (SHOP_URL / FACTORY_URL, by default the local ports); when nothing
answers there it starts a stack of its own (fresh databases in a temporary folder, a short
PRODUCTION_SECONDS, 3 unless set), runs the story and stops it again.

  1. list the items                         GET  /item
  2. buy 5 x Item2: too few, a shortage     POST /item
  3. the shop's replenishment order         GET  /replenishment-orders
  4. the factory's production order + log   GET  /production-orders, GET /log  (factory)
  5. wait for production and delivery       (polls the stock)
  6. buy again: success                     POST /item
  7. the final stock

Exit status 0 when every step showed what the story expects.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

from inventory_core.config import FACTORY_DATABASE_URL, PRODUCTION_SECONDS, SHOP_DATABASE_URL
from local_stack import stack_config
from local_stack.launcher import StackFailed, StackProcess

# The demo's own environment variables: a running stack to use, and databases for its own stack.
SHOP_URL, FACTORY_URL = "SHOP_URL", "FACTORY_URL"
DEMO_SHOP_DATABASE_URL = "DEMO_SHOP_DATABASE_URL"
DEMO_FACTORY_DATABASE_URL = "DEMO_FACTORY_DATABASE_URL"

ITEM = "Item2"
REQUESTER = "demo"
DEFAULT_PRODUCTION_SECONDS = "3"
TIMEOUT = 10  # seconds per HTTP call


class DemoFailed(Exception):
    pass


def out(text: str = "") -> None:
    print(text, flush=True)


def step(number: int, title: str) -> None:
    out()
    out(f"── Step {number}: {title} " + "─" * max(0, 60 - len(title)))


def show_request(method: str, url: str, body: dict | None = None) -> None:
    if method == "GET":
        out(f"   $ curl {url}")
    else:
        out(f"   $ curl -X {method} {url} -H 'Content-Type: application/json' "
            f"-d '{json.dumps(body, ensure_ascii=False)}'")


class Story:
    def __init__(self, shop_url: str, factory_url: str, production_seconds: float | None):
        self.shop = shop_url.rstrip("/")
        self.factory = factory_url.rstrip("/")
        self.production_seconds = production_seconds
        self.http = requests.Session()

    # -- HTTP -----------------------------------------------------------------------------------
    def get(self, url: str, **params):
        response = self.http.get(url, params=params or None, timeout=TIMEOUT)
        if response.status_code != 200:
            raise DemoFailed(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def buy(self, quantity: int) -> str:
        body = {"item_name": ITEM, "quantity": quantity, "requester": REQUESTER}
        show_request("POST", f"{self.shop}/item", body)
        response = self.http.post(f"{self.shop}/item", json=body, timeout=TIMEOUT)
        if response.status_code != 200:
            raise DemoFailed(f"POST /item answered {response.status_code}: {response.text[:300]}")
        message = response.json().get("message", "")
        out(f"   → {response.status_code} {json.dumps(response.json(), ensure_ascii=False)}")
        return message

    def items(self) -> list[dict]:
        return self.get(f"{self.shop}/item")

    def stock_of(self, name: str = ITEM) -> int:
        return next(i["quantity"] for i in self.items() if i["name"] == name)

    # -- printing -------------------------------------------------------------------------------
    def print_items(self) -> list[dict]:
        show_request("GET", f"{self.shop}/item")
        items = self.items()
        out(f"   {'item_id':>7}  {'name':<8} {'price':>7} {'quantity':>8}  factory_id")
        for item in items:
            out(f"   {item['item_id']:>7}  {item['name']:<8} {item['price']:>7} "
                f"{item['quantity']:>8}  {item['factory_id']}")
        return items

    # -- the story ------------------------------------------------------------------------------
    def run(self) -> None:
        step(1, "the shop's items")
        items = self.print_items()
        item = next((i for i in items if i["name"] == ITEM), None)
        if item is None:
            raise DemoFailed(f"the shop has no {ITEM}: is this the seed's sample data?")
        item_id, before = item["item_id"], item["quantity"]

        step(2, f"buy 5 × {ITEM}: there are only {before}")
        quantity = 5
        if before >= quantity:  # a stack that already ran the story: still show a shortage
            quantity = before + 1
            out(f"   ({ITEM} has {before} in stock on this stack, so the demo buys {quantity})")
        message = self.buy(quantity)
        if not message.startswith("구매 실패"):
            raise DemoFailed(f"expected the shortage answer (구매 실패 …), got {message!r}")
        out("   The shop sold nothing (\"purchase failed! stock left: N, production requested\"),")
        out("   and in the same transaction opened a replenishment order with an outbox event.")
        started = time.monotonic()

        step(3, "the shop's replenishment order (published to SNS → the order queue)")
        show_request("GET", f"{self.shop}/replenishment-orders")
        order = self.open_replenishment(item_id)
        out(f"   #{order['replenishment_order_id']}: {order['quantity']} × {ITEM}, status "
            f"{order['status']}, trigger {order['trigger']} (order up to the target level)")

        step(4, "the factory takes the order (the order consumer called its API)")
        show_request("GET", f"{self.factory}/production-orders")
        production = self.wait_for(
            lambda: self.production_order_for(order["replenishment_order_id"]), 30,
            "the factory's production order")
        out(f"   production order #{production['production_order_id']}: {production['quantity']} × "
            f"{production['item_name']}, status {production['status']}, due {production['due_at']}")
        show_request("GET", f"{self.factory}/log")
        logs = self.get(f"{self.factory}/log")
        for entry in logs[-3:]:
            out(f"   log #{entry['log_id']}: {entry['factory_name']} {entry['item_name']} × "
                f"{entry['quantity']} for {entry['requester']} at {entry['datetime']}")
        out("   (buyers' names are masked for anyone but an operator: docs/trust.md)")

        lead = (f"{self.production_seconds:g}s" if self.production_seconds is not None
                else "the factory's lead time")
        step(5, f"wait for production ({lead}) and delivery")
        needed = quantity
        timeout = (self.production_seconds or 20) + 60
        sys.stdout.write("   waiting ")
        deadline = time.monotonic() + timeout
        while True:
            stock = self.stock_of()
            if stock >= needed:
                break
            if time.monotonic() > deadline:
                out()
                raise DemoFailed(f"{ITEM} still has {stock} after {timeout:.0f}s; is the stack's "
                                 "[consumers] part running?")
            sys.stdout.write(".")
            sys.stdout.flush()
            time.sleep(0.5)
        out(f" restocked: {ITEM} has {stock} ({time.monotonic() - started:.1f}s after the failed "
            "purchase)")
        out("   production-queue (delayed by the lead time) → production consumer → SNS "
            "production-completed → delivery-queue → delivery consumer → stock")

        step(6, f"buy {quantity} × {ITEM} again")
        message = self.buy(quantity)
        if not message.startswith("구매 완료"):
            raise DemoFailed(f"expected the success answer (구매 완료 …), got {message!r}")
        out("   (\"purchase complete! stock left: N\")")

        step(7, "the final stock")
        self.print_items()
        closed = self.replenishment(order["replenishment_order_id"])
        out(f"   replenishment #{closed['replenishment_order_id']}: {closed['status']}"
            f" (received {closed.get('received_quantity')})")
        out()
        out(f"The seed's system test passed: shortage → factory → restock → sale, in "
            f"{time.monotonic() - started:.1f}s.")

    def open_replenishment(self, item_id: int) -> dict:
        orders = [o for o in self.get(f"{self.shop}/replenishment-orders")
                  if o["item_id"] == item_id]
        if not orders:
            raise DemoFailed(f"no replenishment order for item {item_id}")
        return max(orders, key=lambda o: o["replenishment_order_id"])

    def replenishment(self, replenishment_order_id: int) -> dict:
        return self.get(f"{self.shop}/replenishment-orders/{replenishment_order_id}")

    def production_order_for(self, replenishment_order_id: int) -> dict | None:
        return next((p for p in self.get(f"{self.factory}/production-orders")
                     if p["replenishment_order_id"] == replenishment_order_id), None)

    def wait_for(self, probe, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise DemoFailed(f"{what} did not appear within {timeout:.0f}s")
            time.sleep(0.3)


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def own_stack(config: stack_config.StackConfig, folder: Path) -> tuple[StackProcess, str]:
    env = dict(os.environ)
    env.setdefault(PRODUCTION_SECONDS, DEFAULT_PRODUCTION_SECONDS)
    # Fresh databases, so the story starts from the seed's sample data (and var/ is untouched).
    env[SHOP_DATABASE_URL] = env.get(DEMO_SHOP_DATABASE_URL) or f"sqlite:///{folder / 'shop.db'}"
    env[FACTORY_DATABASE_URL] = (env.get(DEMO_FACTORY_DATABASE_URL)
                                 or f"sqlite:///{folder / 'factory.db'}")
    log = folder / "stack.log"
    return StackProcess(env, log_path=log), env[PRODUCTION_SECONDS]


def main() -> int:
    try:
        config = stack_config.load()
    except stack_config.ConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    shop_url = os.environ.get(SHOP_URL) or config.shop_url
    factory_url = os.environ.get(FACTORY_URL) or config.factory_url
    production = os.environ.get(PRODUCTION_SECONDS)
    stack = None
    with tempfile.TemporaryDirectory(prefix="local_stack-demo-") as folder:
        if healthy(shop_url):
            if not healthy(factory_url):
                print(f"demo: the shop answers at {shop_url} but no factory at {factory_url}; "
                      "set FACTORY_URL", file=sys.stderr)
                return 2
            out(f"Using the running stack: shop {shop_url}, factory {factory_url}")
            production = None  # whatever that stack was started with
        else:
            stack, production = own_stack(config, Path(folder))
            shop_url, factory_url = config.shop_url, config.factory_url
            out(f"No stack answers at {shop_url}: starting one (PRODUCTION_SECONDS={production}, "
                f"fresh databases; its output goes to {stack.log_path}) …")
            try:
                seconds = stack.start().wait_ready(90)
            except StackFailed as exc:
                print(f"demo: {exc}", file=sys.stderr)
                stack.stop()
                return 1
            out(f"Stack ready in {seconds:.1f}s.")
        try:
            Story(shop_url, factory_url, float(production) if production else None).run()
            code = 0
        except (DemoFailed, requests.RequestException) as exc:
            out()
            print(f"DEMO FAILED: {exc}", file=sys.stderr)
            if stack is not None:
                print(f"last lines of the stack's output:\n{stack.tail(30)}", file=sys.stderr)
            code = 1
        except KeyboardInterrupt:
            out("\ninterrupted")
            code = 130
        finally:
            if stack is not None:
                out("Stopping the demo's stack …")
                status = stack.stop()
                out(f"Stopped (exit status {status}).")
    return code


if __name__ == "__main__":
    sys.exit(main())
