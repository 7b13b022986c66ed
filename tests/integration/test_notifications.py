"""Stock-outs pause ads and e-mail their manager; restocks resume them; production orders e-mail the
factory manager. One e-mail per event however often it is delivered, read back from moto's SES
over HTTP. SQLite and MariaDB."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, select, text

from consumers import notify, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging, ensure_ses_sender, ensure_topology
from inventory_core.adapters.migrate import upgrade
from inventory_core.adapters.models.shop import (
    Advertisement,
    EmailLog,
    ShopOutbox,
    ShopProcessedEvent,
)
from inventory_core.domain.events import new_event, parse_event
from inventory_core.service_layer import dashboard, notifications, shop_service
from local_stack.poller import QueuePoller
from shop_api import create_app
from tests.conftest import new_database_url
from tests.helpers import shop_uow, sign_in

# --- helpers -----------------------------------------------------------------------------------

def ses_messages(endpoint: str, sender: str) -> list[dict]:
    """Every e-mail moto's SES accepted from `sender` (unique per test), via moto's model API."""
    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=10).json()
    return [m for m in data.get("ses", {}).get("Message", []) if m["source"] == sender]


def ad_status(url: str, item_id: int) -> str:
    with session_factory(url)() as session:
        return session.scalar(select(Advertisement.status).where(Advertisement.item_id == item_id))


def email_rows(url: str) -> list[EmailLog]:
    with session_factory(url)() as session:
        return list(session.scalars(select(EmailLog).order_by(EmailLog.email_id)))


def outbox_bodies(url: str, event_type: str) -> list[str]:
    with session_factory(url)() as session:
        return list(session.scalars(select(ShopOutbox.body)
                                    .where(ShopOutbox.event_type == event_type)
                                    .order_by(ShopOutbox.outbox_id)))


def sqs_record(settings, body: str, receive_count: int = 1) -> dict:
    """A Lambda-shaped record of the notification queue carrying `body`."""
    return {"messageId": str(uuid.uuid4()), "receiptHandle": "handle-" + uuid.uuid4().hex,
            "body": body, "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {"type": {"stringValue": parse_event(body).type,
                                           "dataType": "String"}},
            "eventSourceARN": f"arn:aws:sqs:{settings.aws_region}:123456789012:"
                              f"{settings.name_prefix}-notification-queue",
            "awsRegion": settings.aws_region}


def drain(settings, queue_url: str, expected: int, timeout: float = 60.0) -> int:
    """Run the notify consumer on the notification queue as Lambda would, until `expected`
    messages were handled and deleted."""
    messaging = Messaging(settings)
    handled, deadline = 0, time.monotonic() + timeout
    poller = QueuePoller(messaging, queue_url, notify.handler, batch_size=10,
                         batch_window=0.2, wait_seconds=1, name="notification")
    while handled < expected and time.monotonic() < deadline:
        handled += poller.poll_once().deleted
    return handled


@pytest.fixture
def deployment(settings, monkeypatch):
    """Topics and queues on moto, a sender of this test's own, and the environment a deployed
    notify consumer has. Yields (settings, queue urls)."""
    settings = settings.but(ses_sender=f"notify-{settings.name_prefix}@example.com")
    urls = ensure_topology(settings, visibility_timeout=1)
    for name, value in {"SHOP_DATABASE_URL": settings.shop_database_url,
                        "NAME_PREFIX": settings.name_prefix,
                        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
                        "AWS_REGION": settings.aws_region,
                        "SES_SENDER": settings.ses_sender}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SHOP_DATABASE_SECRET_ARN", raising=False)
    runtime.reset()
    yield settings, urls
    runtime.reset()


def publishing_uow(settings):
    return shop_uow(settings.shop_database_url, Messaging(settings))


class FakeMailer:
    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.sent: list[tuple[str, str]] = []
        self.delay, self.fail = delay, fail
        self._lock = threading.Lock()

    def send_email(self, sender, to, subject, body):
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("SES is unreachable")
        with self._lock:
            self.sent.append((to, subject))
            return f"fake-{len(self.sent)}"


# --- through SNS, SQS and SES on moto ------------------------------------------------------------

def test_an_item_running_out_pauses_its_ad_and_mails_the_managers_once(deployment):
    settings, urls = deployment
    ensure_ses_sender(settings)

    result = shop_service.purchase(publishing_uow(settings), "Item1", 1, "jeonghun")
    assert result.completed and result.remaining == 0
    # stock.depleted (stock-events topic) and replenishment.requested both reach the queue.
    assert drain(settings, urls["notification"], expected=2) == 2

    assert ad_status(settings.shop_database_url, 1) == "paused"
    assert ad_status(settings.shop_database_url, 2) == "active"
    rows = email_rows(settings.shop_database_url)
    assert sorted((r.event_type, r.recipient, r.status) for r in rows) == [
        ("replenishment.requested", "factory1@example.com", "sent"),
        ("stock.depleted", "ads@example.com", "sent")]
    mails = ses_messages(settings.aws_endpoint_url, settings.ses_sender)
    assert sorted(m["destinations"]["ToAddresses"][0] for m in mails) == [
        "ads@example.com", "factory1@example.com"]
    assert {m["id"] for m in mails} == {r.ses_message_id for r in rows}
    paused = next(m for m in mails if m["destinations"]["ToAddresses"] == ["ads@example.com"])
    assert paused["subject"] == "[Ad paused] Item1 is out of stock"
    assert "paused" in paused["body"]

    # Duplicate deliveries (SQS at least once, or the outbox relay publishing twice).
    bodies = (outbox_bodies(settings.shop_database_url, "stock.depleted")
              + outbox_bodies(settings.shop_database_url, "replenishment.requested"))
    for _ in range(2):
        answer = notify.handler({"Records": [sqs_record(settings, b, 2) for b in bodies]})
        assert answer == {"batchItemFailures": []}
    assert len(ses_messages(settings.aws_endpoint_url, settings.ses_sender)) == 2
    assert len(email_rows(settings.shop_database_url)) == 2
    assert ad_status(settings.shop_database_url, 1) == "paused"


def test_a_restock_resumes_the_ad_and_mails_once(deployment):
    settings, urls = deployment
    ensure_ses_sender(settings)
    shop_service.purchase(publishing_uow(settings), "Item1", 1, "jeonghun")
    assert drain(settings, urls["notification"], expected=2) == 2
    order = shop_service.list_replenishments(shop_uow(settings.shop_database_url))[0]

    # What the delivery consumer does when production completes.
    received = shop_service.receive_stock(publishing_uow(settings), str(uuid.uuid4()), 1, 10,
                                          order["replenishment_order_id"])
    assert received.applied and received.quantity == 10
    assert drain(settings, urls["notification"], expected=1) == 1

    assert ad_status(settings.shop_database_url, 1) == "active"
    resumed = [m for m in ses_messages(settings.aws_endpoint_url, settings.ses_sender)
               if m["subject"].startswith("[Ad resumed]")]
    assert [(m["subject"], m["destinations"]["ToAddresses"]) for m in resumed] == [
        ("[Ad resumed] Item1 is back in stock", ["ads@example.com"])]
    assert "10 units" in resumed[0]["body"]

    [body] = outbox_bodies(settings.shop_database_url, "stock.restocked")
    for _ in range(3):
        assert notify.handler({"Records": [sqs_record(settings, body, 2)]}) == {
            "batchItemFailures": []}
    assert len(ses_messages(settings.aws_endpoint_url, settings.ses_sender)) == 3  # 2 + 1
    assert ad_status(settings.shop_database_url, 1) == "active"


def test_an_ses_refusal_dead_letters_at_once_and_a_redrive_sends_it_once(deployment):
    settings, _ = deployment  # the sender is NOT verified yet: SES answers MessageRejected
    shop_service.adjust_stock(shop_uow(settings.shop_database_url), 3, -3, "count")
    [body] = outbox_bodies(settings.shop_database_url, "stock.depleted")
    record = sqs_record(settings, body)

    answer = notify.handler({"Records": [record]})

    # permanent: straight to the DLQ with SES's reason, no 5 receives burnt
    assert answer == {"batchItemFailures": []}
    [dead] = _dead_letters(settings)
    assert dead["Body"] == body
    assert "MessageRejected" in dead["MessageAttributes"]["failure_reason"]["StringValue"]
    [row] = email_rows(settings.shop_database_url)
    assert row.status == "pending" and row.ses_message_id is None
    assert "not verified" in row.last_error
    assert ad_status(settings.shop_database_url, 3) == "paused"  # committed before sending
    assert ses_messages(settings.aws_endpoint_url, settings.ses_sender) == []

    ensure_ses_sender(settings)
    for receive_count in (1, 2):  # the redrive sends it; a later duplicate sends nothing
        assert notify.handler({"Records": [sqs_record(settings, body, receive_count)]}) == {
            "batchItemFailures": []}
    [row] = email_rows(settings.shop_database_url)
    assert row.status == "sent" and row.attempts == 2
    [mail] = ses_messages(settings.aws_endpoint_url, settings.ses_sender)
    assert mail["id"] == row.ses_message_id
    assert mail["subject"] == "[Ad paused] Item3 is out of stock"


def test_an_unknown_event_type_is_dead_lettered_at_once(deployment):
    settings, _ = deployment
    event = {"event_id": str(uuid.uuid4()), "type": "production.completed", "version": 1,
             "occurred_at": "2026-11-21T00:00:00+00:00", "payload": {
                 "production_order_id": 1, "replenishment_order_id": 1, "factory_id": 1,
                 "item_id": 1, "item_name": "Item1", "quantity": 1, "completed_at": "x"}}
    record = sqs_record(settings, json.dumps(event))
    record["messageAttributes"]["type"]["stringValue"] = "production.completed"
    assert notify.handler({"Records": [record]}) == {"batchItemFailures": []}
    dead = Messaging(settings).receive(
        Messaging(settings).queue_url_of("notification", dead_letter=True), 10, 1)
    assert [m["Body"] for m in dead] == [json.dumps(event)]


def _dead_letters(settings) -> list[dict]:
    messaging = Messaging(settings)
    return messaging.client("sqs").receive_message(
        QueueUrl=messaging.queue_url_of("notification", dead_letter=True), WaitTimeSeconds=1,
        MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


# --- the domain with a fake mailer (no SES needed) ------------------------------------------------

def _events(url: str, event_type: str):
    return [parse_event(b) for b in outbox_bodies(url, event_type)]


def test_a_stale_depletion_never_pauses_a_restocked_ad(shop_url):
    uow, mailer = shop_uow(shop_url), FakeMailer()
    shop_service.adjust_stock(uow, 2, -2, "count")  # -> stock.depleted
    shop_service.adjust_stock(uow, 2, 5, "found")   # -> stock.restocked
    [depleted] = _events(shop_url, "stock.depleted")
    [restocked] = _events(shop_url, "stock.restocked")

    # Out of order: the restock arrives first (the ad was never paused), then the stale stock-out.
    assert notifications.handle_event(uow, mailer, "s@example.com", restocked).ad_change is None
    assert notifications.handle_event(uow, mailer, "s@example.com", depleted).ad_change is None
    assert ad_status(shop_url, 2) == "active" and mailer.sent == []

    # In time, on another item: paused, then resumed, one e-mail each.
    shop_service.adjust_stock(uow, 1, -1, "count")
    [depleted] = [e for e in _events(shop_url, "stock.depleted") if e.payload["item_id"] == 1]
    assert notifications.handle_event(uow, mailer, "s@example.com", depleted).ad_change == "paused"
    shop_service.adjust_stock(uow, 1, 4, "found")
    [restocked] = [e for e in _events(shop_url, "stock.restocked") if e.payload["item_id"] == 1]
    handled = notifications.handle_event(uow, mailer, "s@example.com", restocked)
    assert handled.ad_change == "resumed"
    assert ad_status(shop_url, 1) == "active"
    assert mailer.sent == [("ads@example.com", "[Ad paused] Item1 is out of stock"),
                           ("ads@example.com", "[Ad resumed] Item1 is back in stock")]


def test_a_stale_restock_never_resumes_an_ad_of_an_item_that_is_out_again(shop_url):
    uow, mailer = shop_uow(shop_url), FakeMailer()
    shop_service.adjust_stock(uow, 1, -1, "count")
    shop_service.adjust_stock(uow, 1, 2, "found")
    shop_service.adjust_stock(uow, 1, -2, "count")
    first, second = _events(shop_url, "stock.depleted")
    [restocked] = _events(shop_url, "stock.restocked")
    for event in (second, restocked, first):  # the newest stock-out first
        notifications.handle_event(uow, mailer, "s@example.com", event)
    assert ad_status(shop_url, 1) == "paused"
    assert mailer.sent == [("ads@example.com", "[Ad paused] Item1 is out of stock")]


def test_concurrent_duplicates_send_one_email(shop_url, monkeypatch):
    shop_service.adjust_stock(shop_uow(shop_url), 1, -1, "count")
    [event] = _events(shop_url, "stock.depleted")
    recordings = []  # what record_event answered each delivery: exactly one records the event
    record_event = notifications.record_event
    monkeypatch.setattr(notifications, "record_event",
                        lambda uow, e, *rest: recordings.append(record_event(uow, e, *rest))
                        or recordings[-1])
    mailer = FakeMailer(delay=0.3)
    outcomes, start = [], threading.Barrier(4)

    def deliver():
        start.wait()
        try:
            outcomes.append(notifications.handle_event(shop_uow(shop_url), mailer,
                                                       "s@example.com", event))
        except notifications.EmailNotSent as exc:  # "being sent by another delivery": retried
            outcomes.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(mailer.sent) == 1
    assert len(outcomes) == 4
    # Exactly one delivery recorded it. (Which one returns is a race: the one that recorded may
    # lose the e-mail's claim to a redelivery and raise EmailNotSent, so count record_event's
    # answers, not the outcomes.) And exactly one of them sent the e-mail.
    assert len(recordings) == 4 and [r[0] for r in recordings].count(True) == 1
    assert sum(o.sent for o in outcomes if isinstance(o, notifications.NotifyResult)) == 1
    # A redelivery of any that failed finds nothing left to send.
    assert notifications.handle_event(shop_uow(shop_url), mailer, "s@example.com",
                                      event).sent == 0
    assert len(mailer.sent) == 1
    [row] = email_rows(shop_url)
    assert row.status == "sent" and row.ses_message_id == "fake-1"
    with session_factory(shop_url)() as session:
        assert session.get(ShopProcessedEvent, ("notify", event.event_id)) is not None


def test_a_sender_that_died_mid_send_is_taken_over_after_its_lease(shop_url, monkeypatch):
    shop_service.adjust_stock(shop_uow(shop_url), 1, -1, "count")
    [event] = _events(shop_url, "stock.depleted")
    with pytest.raises(notifications.EmailNotSent):
        notifications.handle_event(shop_uow(shop_url), FakeMailer(fail=True), "s@example.com",
                                   event)
    # Simulate a crash right after claiming: the row is `sending` with a lease that runs out.
    monkeypatch.setattr(notifications, "CLAIM_SECONDS", -1)
    assert notifications._claim(shop_uow(shop_url), email_rows(shop_url)[0].email_id) is not None
    monkeypatch.setattr(notifications, "CLAIM_SECONDS", 30)
    mailer = FakeMailer()
    assert notifications.handle_event(shop_uow(shop_url), mailer, "s@example.com", event).sent == 1
    assert mailer.sent == [("ads@example.com", "[Ad paused] Item1 is out of stock")]


def test_a_factory_without_a_manager_gets_no_email(shop_url):
    with session_factory(shop_url).begin() as session:
        session.execute(text("UPDATE factories SET manager_email = NULL WHERE factory_id = 2"))
    uow, mailer = shop_uow(shop_url), FakeMailer()
    shop_service.purchase(uow, "Item2", 5, "jeonghun")  # a shortage: a replenishment request
    [event] = _events(shop_url, "replenishment.requested")
    result = notifications.handle_event(uow, mailer, "s@example.com", event)
    assert result.recorded and result.sent == 0 and mailer.sent == []


def test_user_text_reaches_an_email_only_as_one_line_of_plain_text(deployment):
    """A requester the API refuses today ("a\r\nBcc: ...") can still arrive in an older or
    forged replenishment.requested: the e-mail keeps it on its own line of plain text, to the
    factory manager alone (moto's SES, over HTTP)."""
    settings, _ = deployment
    ensure_ses_sender(settings)
    hostile = "a\r\nBcc: victim@example.com\r\n\r\n<b>urgent</b>"
    event = new_event("replenishment.requested", {
        "replenishment_order_id": 9, "item_id": 1, "item_name": "Item1", "factory_id": 1,
        "factory_name": "Factory1", "quantity": 3, "requester": hostile, "trigger": "shortage"})
    result = notifications.handle_event(shop_uow(settings.shop_database_url),
                                        Messaging(settings), settings.ses_sender, event)
    assert result.sent == 1
    [mail] = ses_messages(settings.aws_endpoint_url, settings.ses_sender)
    assert mail["destinations"] == {"ToAddresses": ["factory1@example.com"]}
    assert "Requested by: a  Bcc: victim@example.com    <b>urgent</b>\n" in mail["body"]
    assert "\r" not in mail["body"] and "\r" not in mail["subject"] and "\n" not in mail["subject"]


def test_the_mailer_sends_a_text_part_only():
    """SES gets a Text body and never an Html one: nothing a user typed is rendered as HTML."""
    from botocore.stub import Stubber

    from inventory_core.config import Settings
    messaging = Messaging(Settings())
    client = messaging.client("ses")
    with Stubber(client) as stub:
        stub.add_response("send_email", {"MessageId": "m-1"}, expected_params={
            "Source": "s@example.com", "Destination": {"ToAddresses": ["to@example.com"]},
            "Message": {"Subject": {"Data": "subject", "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": "<b>body</b>", "Charset": "UTF-8"}}}})
        assert messaging.send_email("s@example.com", "to@example.com", "subject",
                                    "<b>body</b>") == "m-1"
        stub.assert_no_pending_responses()


# --- the dashboard's read model and page --------------------------------------------------------

def test_the_dashboard_shows_stock_orders_paused_ads_and_emails_and_nothing_secret(shop_url):
    uow = shop_uow(shop_url)
    shop_service.purchase(uow, "Item1", 1, "jeonghun")
    for event in _events(shop_url, "stock.depleted") + _events(shop_url, "replenishment.requested"):
        notifications.handle_event(uow, FakeMailer(), "s@example.com", event)

    state = dashboard.dashboard_state(uow)
    item1 = next(i for i in state["items"] if i["name"] == "Item1")
    assert (item1["quantity"], item1["level"], item1["ad_status"], item1["on_order"]) == (
        0, "out", "paused", 10)
    assert [o["item_name"] for o in state["replenishments"]] == ["Item1"]
    assert state["replenishments"][0]["age_seconds"] >= 0
    assert [a["item_name"] for a in state["ads_paused"]] == ["Item1"]
    assert state["summary"]["emails_sent"] == 2 and state["summary"]["out_of_stock"] == 1
    assert state["ledger"][0]["reason"] == "sale"

    app = create_app({"SHOP_DATABASE_URL": shop_url, "PUBLISH_AFTER_COMMIT": False,
                      "ADMIN_TOKEN": "secret-admin-token-123"})
    client = app.test_client()
    sign_in(client, "secret-admin-token-123")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert 'data-item="Item1" data-quantity="0"' in html and "ad paused" in html
    assert "[Ad paused] Item1 is out of stock" in html
    polled = client.get("/dashboard/state")
    assert polled.status_code == 200 and polled.json["summary"]["ads_paused"] == 1
    for body in (html, polled.get_data(as_text=True)):
        assert "secret-admin-token-123" not in body
        assert shop_url.split("://", 1)[1] not in body and "sqlite" not in body
        assert "mysql" not in body
    assert client.get("/dashboard/static/dashboard.js").status_code == 200


# --- the migration --------------------------------------------------------------------------------

def test_the_migration_gives_an_already_seeded_database_its_ads_and_managers(backend, tmp_path):
    url, drop = new_database_url(backend, tmp_path, "mig")
    try:
        upgrade("shop", url, "0001")
        engine = create_engine(url)
        with engine.begin() as conn:  # what the seed inserted before revision 0002
            conn.execute(text("INSERT INTO factories (factory_id, name, locate) VALUES "
                              "(1, 'Factory1', 'korea'), (2, 'Factory2', 'usa')"))
            conn.execute(text("INSERT INTO items (item_id, name, price, quantity, factory_id) "
                              "VALUES (1, 'Item1', 10000, 1, 1), (2, 'Item2', 20000, 2, 2), "
                              "(3, 'Item3', 30000, 3, 1), (4, 'Other', 1, 1, 1)"))
        upgrade("shop", url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT item_id, status, manager_email FROM advertisements "
                                     "ORDER BY item_id")).all() == [
                (1, "active", "ads@example.com"), (2, "active", "ads@example.com"),
                (3, "active", "ads@example.com")]
            emails = text("SELECT manager_email FROM factories ORDER BY factory_id")
            assert conn.execute(emails).scalars().all() == ["factory1@example.com",
                                                            "factory2@example.com"]
        from alembic import command

        from inventory_core.adapters.migrate import alembic_config
        with engine.begin() as conn:  # and it downgrades cleanly
            config = alembic_config("shop", url)
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        with engine.connect() as conn:
            assert "advertisements" not in {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type='table'" if backend == "sqlite"
                else "SHOW TABLES"))}
        engine.dispose()
    finally:
        drop()
