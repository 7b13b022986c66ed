"""SES errors by kind: a permanent refusal dead-letters the message at once, throttling backs
off with ChangeMessageVisibility, anything else is redelivered as before."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from consumers import batch, notify
from inventory_core.adapters.messaging import MailRejected, MailThrottled, Messaging
from inventory_core.config import Settings
from inventory_core.domain import events
from inventory_core.service_layer import notifications

SETTINGS = Settings(aws_endpoint_url="http://127.0.0.1:1", aws_account_id="123456789012")


@pytest.mark.parametrize("code, raised", [
    ("MessageRejected", MailRejected), ("MailFromDomainNotVerifiedException", MailRejected),
    ("AccessDenied", MailRejected), ("Throttling", MailThrottled),
    ("InternalFailure", ClientError), ("ServiceUnavailable", ClientError)])
def test_send_email_classifies_ses_answers(code, raised, monkeypatch):
    messaging = Messaging(SETTINGS)
    ses = messaging.client("ses")
    with Stubber(ses) as stub:
        # botocore's own retries would ask again for a retryable code: answer each the same
        for _ in range(3):
            stub.add_client_error("send_email", service_error_code=code, http_status_code=400,
                                  service_message=f"{code} says no")
        with pytest.raises(raised) as caught:
            messaging.send_email("from@example.org", "to@example.org", "s", "b")
    if raised is not ClientError:
        assert code in str(caught.value)


class FakeQueues:
    def __init__(self):
        self.delays, self.sent = [], []

    def queue_url(self, name):
        return f"https://sqs.example/{name}"

    def delay(self, url, handle, seconds):
        self.delays.append((url, handle, seconds))

    def send(self, url, body, attributes=None):
        self.sent.append((url, body, attributes))
        return "m"


def _record(receive: int) -> dict:
    return {"messageId": "m1", "receiptHandle": "rh-1", "body": "{}",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-2:1:replenish-dev-notification-queue",
            "attributes": {"ApproximateReceiveCount": str(receive)}, "messageAttributes": {}}


@pytest.mark.parametrize("receive, low, high", [(1, 5, 6), (3, 20, 24), (12, 300, 360)])
def test_throttled_messages_come_back_after_a_growing_backoff(receive, low, high):
    queues = FakeQueues()

    def throttled(record):
        raise batch.RetryLater("SES Throttling: Maximum sending rate exceeded.")

    answer = batch.handle_batch({"Records": [_record(receive)]}, throttled, queues)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # Lambda must not delete
    [(url, handle, seconds)] = queues.delays
    assert url.endswith("/replenish-dev-notification-queue") and handle == "rh-1"
    assert low <= seconds <= high
    assert queues.sent == []  # not dead-lettered


@pytest.mark.parametrize("errors, raised", [
    ((MailRejected("SES MessageRejected: Email address is not verified."),),
     batch.PermanentFailure),
    ((MailThrottled("SES Throttling"), MailRejected("SES MessageRejected")), batch.RetryLater),
    ((RuntimeError("timeout"),), notifications.EmailNotSent),
    ((MailRejected("SES MessageRejected"), RuntimeError("timeout")), notifications.EmailNotSent),
    ((), notifications.EmailNotSent)])  # "being sent by another delivery"
def test_notify_maps_unsent_mail_to_the_right_kind_of_failure(errors, raised, monkeypatch):
    def refuse(*args):
        raise notifications.EmailNotSent("e-mail 1: no", errors)

    monkeypatch.setattr(notifications, "handle_event", refuse)
    monkeypatch.setattr(events, "parse_event", lambda body, expected_types: None)
    monkeypatch.setattr(notify.runtime, "shop_uow", lambda: None)
    monkeypatch.setattr(notify.runtime, "messaging", lambda: None)
    with pytest.raises(raised):
        notify.handle_record({"body": "{}"})
