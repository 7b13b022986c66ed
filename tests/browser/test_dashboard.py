"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium (through Debian's
chromedriver; nothing downloads a browser of its own).

A running stack: the shop API behind a real WSGI server on a free port, moto's server for
SNS/SQS/SES, the outbox relay (right after commit) and the notify consumer polled as Lambda's SQS
event source would. The test finds nothing readable before signing in, is refused with a wrong
credential, signs in, buys an item to zero through the API, and waits for the page to show it
(stock 0, ad paused, the e-mail) without a reload; then redrives a dead letter with the button
(the operator session and its CSRF token, nothing typed) and signs out. Screenshots:
test-artifacts/dashboard.png (laptop), dashboard-phone.png (phone width), sign-in.png.

With six hours of trade written into the ledger and fulfilled orders, the page draws its charts
(stock over time per item, lead time per factory) under its content-security policy: nothing
refused, nothing in the console; test-artifacts/dashboard-charts.png."""
from __future__ import annotations

import json
import random
import shutil
import threading
import uuid
from datetime import timedelta

import pytest
import requests

from consumers import notify, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging, ensure_ses_sender, ensure_topology
from inventory_core.adapters.migrate import prepare
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import Item, ReplenishmentOrder, StockLedgerEntry
from inventory_core.config import Settings
from inventory_core.service_layer import shop_service
from inventory_core.service_layer.dead_letters import record_dead_letter
from tests.browser.conftest import ARTIFACTS, screenshot
from tests.browser.test_docs import RECORD_VIOLATIONS
from tests.conftest import free_port, new_database_url
from tests.helpers import shop_uow

ADMIN_TOKEN = "browser-test-admin-token"


@pytest.fixture
def stack(moto_endpoint, tmp_path, monkeypatch):
    """The shop API on a free port over real HTTP, with its topics, queues and consumers."""
    from werkzeug.serving import make_server

    from local_stack.poller import QueuePoller
    from shop_api import create_app

    shop_url, drop = new_database_url("sqlite", tmp_path, "shop")
    prepare("shop", shop_url)
    prefix = f"b{uuid.uuid4().hex[:10]}"
    settings = Settings(shop_database_url=shop_url, aws_endpoint_url=moto_endpoint,
                        name_prefix=prefix, admin_token=ADMIN_TOKEN,
                        ses_sender=f"notify-{prefix}@example.com")
    ensure_topology(settings, visibility_timeout=2)
    ensure_ses_sender(settings)
    for name, value in {"SHOP_DATABASE_URL": shop_url, "NAME_PREFIX": prefix,
                        "AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": settings.aws_region,
                        "SES_SENDER": settings.ses_sender}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SHOP_DATABASE_SECRET_ARN", raising=False)
    runtime.reset()

    # Something for the dead-letter panel: a replenishment request the factory never took.
    body = json.dumps({"event_id": str(uuid.uuid4()), "type": "replenishment.requested",
                       "version": 1, "occurred_at": "2026-11-21T09:00:00.000+00:00",
                       "payload": {"replenishment_order_id": 99, "item_id": 3}})
    record_dead_letter(shop_uow(shop_url), f"{prefix}-order-queue-dlq", str(uuid.uuid4()), body,
                       {"failure_reason": {"DataType": "String",
                                           "StringValue": "factory API answered 503 eight times"}},
                       8)

    record_dead_letter(shop_uow(shop_url), f"{prefix}-notification-queue-dlq",
                       str(uuid.uuid4()), "{not json", {
                           "failure_reason": {"DataType": "String",
                                              "StringValue": "not JSON: Expecting property name"}},
                       1)

    app = create_app({"SETTINGS": settings})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    stop = threading.Event()
    messaging = Messaging(settings)
    poller = QueuePoller(messaging, messaging.queue_url_of("notification"), notify.handler,
                         batch_size=10, batch_window=0.2, wait_seconds=1, name="notification")
    threads = [threading.Thread(target=server.serve_forever, daemon=True),
               threading.Thread(target=poller.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    yield {"base": f"http://127.0.0.1:{port}", "settings": settings, "poller": poller}
    stop.set()
    server.shutdown()
    for thread in threads:
        thread.join(timeout=10)
    runtime.reset()
    drop()


def item_state(driver, name: str) -> dict | None:
    """An item's stock and ad status as the page shows them, read in one script call (the page
    replaces its elements on every refresh, so element handles go stale)."""
    return driver.execute_script("""
        var li = document.querySelector('li[data-item="' + arguments[0] + '"]');
        if (!li) return null;
        var ad = li.querySelector('[data-ad-status]');
        return {quantity: li.getAttribute('data-quantity'),
                ad: ad && ad.getAttribute('data-ad-status')};""", name)


def click(driver, css: str, attempts: int = 5) -> None:
    """Click what `css` selects, again if a refresh replaced it between finding and clicking."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for attempt in range(attempts):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            if attempt == attempts - 1:
                raise


def text_of(driver, element_id: str) -> str:
    return driver.execute_script(
        "var e = document.getElementById(arguments[0]); return e ? e.innerText : ''", element_id)


def fetch_status(driver, path: str, method: str = "GET") -> int:
    """The status the page's own origin gets for `path` (with the browser's cookies)."""
    return driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: arguments[1], credentials: "same-origin"})
          .then(function (r) { done(r.status); }, function () { done(-1); });""", path, method)


def sign_in_with(driver, wait, credential: str) -> None:
    from selenium.webdriver.common.by import By

    field = wait.until(lambda d: d.find_element(By.ID, "credential"))
    field.clear()
    field.send_keys(credential)
    driver.find_element(By.ID, "sign-in").click()


def test_nothing_is_readable_before_signing_in_and_a_wrong_credential_is_refused(stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, wait = stack["base"], WebDriverWait(browser, 60, poll_frequency=0.2)
    browser.get(f"{base}/dashboard")
    assert browser.current_url == f"{base}/dashboard/login"  # sent to the sign-in page
    assert "Item1" not in browser.page_source and "dead letter" not in browser.page_source.lower()
    for path in ("/dashboard/state", "/admin/dead-letters"):
        assert fetch_status(browser, path) == 401, path
    assert fetch_status(browser, "/admin/dead-letters/1/redrive", "POST") == 401

    sign_in_with(browser, wait, "not-the-credential")
    problem = wait.until(lambda d: d.find_element(By.ID, "sign-in-problem"))
    assert "not the admin credential" in problem.text
    assert browser.current_url == f"{base}/dashboard/login"
    assert browser.get_cookies() == []
    assert fetch_status(browser, "/dashboard/state") == 401
    screenshot(browser, ARTIFACTS / "sign-in.png", 1280)


def test_the_dashboard_shows_a_stock_out_without_a_reload(stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, wait = stack["base"], WebDriverWait(browser, 60, poll_frequency=0.2)
    browser.get(f"{base}/dashboard")
    sign_in_with(browser, wait, ADMIN_TOKEN)
    wait.until(lambda d: d.current_url == f"{base}/dashboard")
    [cookie] = browser.get_cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "operator_session", True, "Strict")
    assert "operator_session" not in browser.execute_script("return document.cookie")

    # Server-rendered first, then re-rendered by the page's script from /dashboard/state.
    assert item_state(browser, "Item1") == {"quantity": "1", "ad": "active"}
    wait.until(lambda d: "live" in d.find_element(By.ID, "live-text").text)
    assert item_state(browser, "Item1") == {"quantity": "1", "ad": "active"}
    assert "No open orders." in text_of(browser, "orders")
    # The page polls; show that it stays one document (no reload) through the change.
    browser.execute_script("window.__sameDocument = 'yes'")

    bought = requests.post(f"{base}/purchases", timeout=60,
                           json={"item_name": "Item1", "quantity": 1, "requester": "browser-test"})
    assert bought.status_code == 201, bought.text
    assert bought.json()["remaining"] == 0

    wait.until(lambda d: item_state(d, "Item1") == {"quantity": "0", "ad": "paused"})
    wait.until(lambda d: "[Ad paused] Item1 is out of stock" in text_of(d, "emails")
               and "[Production order]" in text_of(d, "emails")
               and d.execute_script("return document.querySelectorAll("
                                    "'#emails tr:not([data-status=\"sent\"])').length") == 0)
    assert browser.execute_script("return window.__sameDocument") == "yes"  # never reloaded
    assert "Item1" in text_of(browser, "ads")
    orders = text_of(browser, "orders")
    assert "Item1" in orders and "requested" in orders
    ledger = text_of(browser, "ledger")
    assert "sale" in ledger and "purchase:" in ledger
    page = browser.page_source
    assert ADMIN_TOKEN not in page and "sqlite" not in page

    # Redrive a dead letter with its button: the session and its CSRF token, nothing asked.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dead button[data-action]")) == 2
    click(browser, '#dead tr[data-dead-letter="1"] button[data-action]')
    wait.until(lambda d: "was sent back to its queue" in text_of(d, "action-note"))
    wait.until(lambda d: d.execute_script(
        "var row = document.querySelector('#dead tr[data-dead-letter=\"1\"]');"
        "return row && !row.querySelector('button') && row.textContent.includes('redriven')"))

    browser.execute_script("document.getElementById('action-note').textContent = ''")
    screenshot(browser, ARTIFACTS / "dashboard.png", 1280)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    screenshot(browser, ARTIFACTS / "dashboard-phone.png", 390, mobile=True)
    # Nothing sideways on a phone: the page is no wider than the screen (tables scroll inside).
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # Signing out ends the session: back to the sign-in page, the feed closed again.
    click(browser, "#sign-out")
    wait.until(lambda d: d.current_url == f"{base}/dashboard/login")
    assert fetch_status(browser, "/dashboard/state") == 401


# Per factory: the lead time it promises and the range it really takes, in minutes.
LEAD_MINUTES = {1: (30, (22, 48)), 2: (60, (50, 75))}


def seed_history(url: str, hours: int = 6) -> None:
    """`hours` of trade, minute by minute: sales of 1-3 units, and an order up to the target
    when stock falls below the reorder point, fulfilled after its factory's lead time (one in
    four with no due time: fulfilled before the factory's acceptance reached the shop). Ledger
    and orders as the shop writes them; each item's stock ends where its ledger does."""
    rng, now = random.Random(13), utcnow()
    start = now - timedelta(hours=hours)
    shop_service.set_reorder_rule(shop_uow(url), 3, shop_service.RuleSettings(
        "manual", reorder_point=5, target_level=20))
    with session_factory(url)() as session:
        for item in session.query(Item).order_by(Item.item_id):
            rule = shop_service.rule_of(item)
            opening = session.query(StockLedgerEntry).filter_by(item_id=item.item_id).one()
            opening.created_at, quantity = start, opening.quantity_after
            order: ReplenishmentOrder | None = None
            promise, (low, high) = LEAD_MINUTES[item.factory_id]
            for minute in range(1, hours * 60):
                at = start + timedelta(minutes=minute)
                if order is not None and order.fulfilled_at == at:
                    quantity += order.quantity
                    session.add(StockLedgerEntry(item_id=item.item_id, delta=order.quantity,
                                                 quantity_after=quantity, reason="restock",
                                                 reference="history", created_at=at))
                    order = None
                if quantity and rng.random() < 0.07:
                    sold = min(quantity, rng.randint(1, 3))
                    quantity -= sold
                    session.add(StockLedgerEntry(item_id=item.item_id, delta=-sold,
                                                 quantity_after=quantity, reason="sale",
                                                 reference="history", created_at=at))
                if order is None and quantity < rule.reorder_point:
                    order = ReplenishmentOrder(
                        item_id=item.item_id, quantity=rule.target_level - quantity,
                        status="fulfilled", trigger="reorder_point", requester="history",
                        created_at=at, requested_at=at,
                        due_at=at + timedelta(minutes=promise) if rng.random() < 0.75 else None,
                        fulfilled_at=at + timedelta(minutes=rng.randint(low, high)))
                    order.accepted_at = order.due_at and at
                    order.received_quantity = order.quantity
                    session.add(order)
            item.quantity = quantity
            if order is not None and order.fulfilled_at > now:  # still on its way: not yet
                session.expunge(order)
        session.commit()


def test_the_dashboard_draws_its_charts_under_its_policy(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed_history(stack["settings"].shop_database_url)
    base, wait = stack["base"], WebDriverWait(browser, 60, poll_frequency=0.2)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": RECORD_VIOLATIONS})
    browser.get(f"{base}/dashboard")
    sign_in_with(browser, wait, ADMIN_TOKEN)
    wait.until(lambda d: d.current_url == f"{base}/dashboard")
    # After the page's script has re-rendered the page from the feed: the charts are still there.
    wait.until(lambda d: "live" in d.find_element(By.ID, "live-text").text)

    stock = browser.find_elements(By.CSS_SELECTOR, "#stock-charts svg.chart")
    lead = browser.find_elements(By.CSS_SELECTOR, "#lead-time-charts svg.chart")
    assert (len(stock), len(lead)) == (3, 2)
    for svg in stock + lead:
        assert svg.is_displayed()
        assert svg.size["width"] > 250 and svg.size["height"] > 100, svg.size
    # Drawn, not just present: a stock line with its steps, both levels, a marker per order.
    for svg in stock:
        line = svg.find_element(By.CSS_SELECTOR, "polyline.stock")
        assert len(line.get_attribute("points").split()) > 20
        assert svg.find_elements(By.CSS_SELECTOR, "line.level.reorder")
        assert svg.find_elements(By.CSS_SELECTOR, "line.level.target")
    for svg in lead:
        assert len(svg.find_elements(By.CSS_SELECTOR, "circle.actual")) >= 3
        assert svg.find_elements(By.CSS_SELECTOR, "circle.promised")
    assert "later than promised" in text_of(browser, "lead-time-charts")

    assert browser.execute_script("return window.__cspViolations") == []
    console = browser.get_log("browser")  # read once: reading empties it
    assert not [e for e in console if "Content Security Policy" in e["message"]
                or "Refused" in e["message"] or e["level"] == "SEVERE"], console

    shot = tmp_path / "dashboard-charts.png"
    screenshot(browser, shot, 1280)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 50_000, len(png)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 1280 and height > 1500, (width, height)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "dashboard-charts.png")
    for panel in ("stock-charts", "lead-time-charts"):  # each panel at its real size
        browser.find_element(By.ID, panel).screenshot(str(ARTIFACTS / f"dashboard-{panel}.png"))
    # On a phone the charts shrink with the page: nothing sideways.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
