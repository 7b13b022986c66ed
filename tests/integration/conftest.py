"""A whole deployment per test: topics and queues on moto's server (short visibility timeout, so
redelivery takes a second), both Flask apps behind real HTTP servers on free ports, and pollers
that feed the real consumer functions exactly as Lambda's SQS event source mapping would."""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from consumers import runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging, ensure_topology
from inventory_core.adapters.models.factory import FactoryOutbox, ProductionOrder
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.config import Settings
from inventory_core.service_layer import shop_service
from inventory_core.service_layer.unit_of_work import UnitOfWork
from inventory_core.topology import TOPOLOGY
from local_stack.poller import QueuePoller

VISIBILITY_TIMEOUT = 1


class ServerThread:
    """A WSGI app behind werkzeug's threaded server, on `port` (a free one by default)."""

    def __init__(self, app, port: int = 0):
        self.app = app
        # Bound at once (port 0: the OS picks), so no other test can take the port before start().
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = None

    def start(self) -> ServerThread:
        if self._server is None:  # started again after stop(): on the same port
            self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"wsgi-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:  # shutdown() would wait forever on a server never started
                self._server.shutdown()
                self._thread.join(5)
                self._thread = None
            self._server.server_close()
            self._server = None


class Switchable:
    """WSGI middleware: answers 503 while `down` (a legacy factory having a bad day)."""

    def __init__(self, app):
        self.app = app
        self.down = False
        self.calls = 0
        self.refused = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        if self.down:
            self.refused += 1
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"message": "maintenance"}']
        return self.app(environ, start_response)


@dataclass
class Stack:
    settings: Settings
    messaging: Messaging
    queue_urls: dict
    shop: ServerThread
    factory: ServerThread
    factory_switch: Switchable
    shop_app: object
    factory_app: object
    pollers: dict[str, QueuePoller] = field(default_factory=dict)
    _threads: list = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    # --- consumers ---------------------------------------------------------------------------
    def poller(self, key: str, function=None, dead_letter: bool = False, batch_window: float = 0.2,
               wait_seconds: int = 1) -> QueuePoller:
        queue = TOPOLOGY.queue(key)
        name = f"{key}-dlq" if dead_letter else key
        poller = QueuePoller(self.messaging, self.messaging.queue_url_of(key, dead_letter),
                             function or (TOPOLOGY.dead_letter_consumer if dead_letter
                                          else queue.consumer),
                             batch_size=10 if dead_letter else queue.batch_size,
                             batch_window=batch_window, wait_seconds=wait_seconds, name=name)
        self.pollers[name] = poller
        return poller

    def start(self, *names: str, functions: dict | None = None, with_dead_letters: bool = True):
        """Poll these queues (and their DLQs) in background threads until the test ends."""
        functions = functions or {}
        for key in names:
            pollers = [self.poller(key, functions.get(key))]
            if with_dead_letters:
                pollers.append(self.poller(key, functions.get("dead_letter"), dead_letter=True))
            for poller in pollers:
                thread = threading.Thread(target=poller.run, args=(self._stop,), daemon=True,
                                          name=f"poller-{poller.name}")
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def figures(self) -> dict:
        return {name: {k: v for k, v in vars(p.stats).items() if k != "seconds"}
                for name, p in self.pollers.items()}

    # --- the databases -------------------------------------------------------------------------
    def shop_uow(self, publisher=None) -> UnitOfWork:
        return UnitOfWork(session_factory(self.settings.shop_database_url), ShopOutbox, publisher)

    def factory_sessions(self):
        return session_factory(self.settings.factory_database_url)

    def item(self, name: str) -> dict:
        return next(i for i in requests.get(f"{self.shop.url}/item", timeout=10).json()
                    if i["name"] == name)

    def replenishments(self) -> list[dict]:
        return shop_service.list_replenishments(self.shop_uow(), limit=500)

    def production_orders(self, replenishment_order_id: int | None = None) -> int:
        with self.factory_sessions()() as session:
            query = select(func.count()).select_from(ProductionOrder)
            if replenishment_order_id is not None:
                query = query.where(
                    ProductionOrder.replenishment_order_id == replenishment_order_id)
            return session.scalar(query)

    def pending_outbox(self, database: str) -> int:
        from inventory_core.adapters.outbox import pending_count
        sessions = session_factory(self.settings.shop_database_url if database == "shop"
                                   else self.settings.factory_database_url)
        with sessions() as session:
            return pending_count(session, ShopOutbox if database == "shop" else FactoryOutbox)

    # --- HTTP ----------------------------------------------------------------------------------
    def buy(self, item_name: str, quantity: int, requester: str = "tester") -> str:
        answer = requests.post(f"{self.shop.url}/item", json={
            "item_name": item_name, "quantity": quantity, "requester": requester}, timeout=15)
        assert answer.status_code == 200, answer.text
        return answer.json()["message"]

    def admin(self, method: str, path: str, **kwargs):
        return requests.request(method, f"{self.shop.url}/admin{path}", timeout=15, headers={
            "Authorization": f"Bearer {self.settings.admin_token}"}, **kwargs)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = ""):
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message or predicate}")
        time.sleep(interval)


def record_figures(test_name: str, figures: dict) -> None:
    """Append a test's message figures to $FLOW_FIGURES (a JSON-lines file) when it is set."""
    path = os.environ.get("FLOW_FIGURES")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"test": test_name, **figures}) + "\n")


@pytest.fixture
def stack(settings, monkeypatch, request):
    """The whole system of one test; consumers read the same settings from the environment."""
    from factory_api import create_app as create_factory_app
    from shop_api import create_app as create_shop_app

    started = time.monotonic()
    queue_urls = ensure_topology(settings, visibility_timeout=VISIBILITY_TIMEOUT)
    factory_app = create_factory_app({"SETTINGS": settings})
    switch = Switchable(factory_app)
    factory = ServerThread(switch)
    settings = settings.but(factory_api_url=factory.url)
    shop_app = create_shop_app({"SETTINGS": settings})
    shop = ServerThread(shop_app).start()
    factory.start()
    for name, value in {"SHOP_DATABASE_URL": settings.shop_database_url,
                        "FACTORY_DATABASE_URL": settings.factory_database_url,
                        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
                        "NAME_PREFIX": settings.name_prefix, "FACTORY_API_URL": factory.url,
                        "PRODUCTION_SECONDS": "0", "ADMIN_TOKEN": settings.admin_token,
                        "AWS_REGION": settings.aws_region}.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    the_stack = Stack(settings, Messaging(settings), queue_urls, shop, factory, switch, shop_app,
                      factory_app)
    yield the_stack
    the_stack.stop()
    shop.stop()
    factory.stop()
    runtime.reset()
    record_figures(request.node.name, {"seconds": round(time.monotonic() - started, 2),
                                       "pollers": the_stack.figures()})
