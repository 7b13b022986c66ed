"""boto3 adapter for SNS, SQS and SES: the only module that talks to the message brokers.

The domain never imports it; entry points build a `Messaging` and hand its publisher to the unit of
work. `AWS_ENDPOINT_URL` (read into Settings) points every client at moto's server locally.
"""
from __future__ import annotations

import functools
import json
import threading
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from inventory_core.config import Settings
from inventory_core.topology import (
    QUEUE_DESTINATION,
    SQS_MAX_DELAY_SECONDS,
    TOPOLOGY,
    Queue,
    physical,
)

if TYPE_CHECKING:  # the stubs (requirements/dev.txt) are not in the Lambda package
    from types_boto3_ses import SESClient
    from types_boto3_sns import SNSClient
    from types_boto3_sqs import SQSClient
    from types_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        ReceiveMessageRequestTypeDef,
    )
    from types_boto3_sts import STSClient

# Publishing happens on the request path right after commit: fail fast and leave the rest to the
# outbox sweep rather than keep a buyer waiting on a slow broker.
READ_TIMEOUT_SECONDS = 5
FAST = Config(connect_timeout=2, read_timeout=READ_TIMEOUT_SECONDS,
              retries={"max_attempts": 2, "mode": "standard"})


# SES answers that no retry changes (SES API v1 SendEmail): the address or content is refused, the
# sender identity is unverified (or, in the sandbox, the recipient), the role may not send, the
# account's sending is paused. Dead-letter at once, with the reason.
SES_PERMANENT = frozenset({
    "MessageRejected", "MailFromDomainNotVerifiedException", "MailFromDomainNotVerified",
    "AccessDenied", "AccessDeniedException", "InvalidParameterValue",
    "ConfigurationSetDoesNotExist", "ConfigurationSetDoesNotExistException",
    "ConfigurationSetSendingPausedException", "AccountSendingPausedException",
})
# Too fast (the sandbox allows 1 message/s) or the day's quota is used: back off, try later.
SES_THROTTLED = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException",
                           "LimitExceededException"})


class MailRejected(Exception):
    """SES refused the e-mail for good (SES_PERMANENT)."""


class MailThrottled(Exception):
    """SES throttled the send: try again after a pause."""


class Messaging:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()  # a boto3 Session may not create clients concurrently
        # One session for every client: they share botocore's loaded service models, which makes
        # each client after the first several times cheaper (a Lambda cold start pays for them).
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, int], Any] = {}
        self._queue_urls: dict[str, str] = {}

    @overload
    def client(self, service: Literal["sqs"], read_timeout: int = ...) -> SQSClient: ...
    @overload
    def client(self, service: Literal["sns"], read_timeout: int = ...) -> SNSClient: ...
    @overload
    def client(self, service: Literal["ses"], read_timeout: int = ...) -> SESClient: ...
    @overload
    def client(self, service: Literal["sts"], read_timeout: int = ...) -> STSClient: ...

    def client(self, service: Literal["sqs", "sns", "ses", "sts"],
               read_timeout: int = READ_TIMEOUT_SECONDS) -> Any:
        """The client for `service`, made once per read timeout (a long poll needs a longer one)."""
        key = (service, read_timeout)
        with self._lock:
            if key not in self._clients:
                config = FAST if read_timeout == READ_TIMEOUT_SECONDS else FAST.merge(
                    Config(read_timeout=read_timeout))
                self._clients[key] = self._session.client(
                    service, region_name=self.settings.aws_region,
                    endpoint_url=self.settings.aws_endpoint_url, config=config)
            return self._clients[key]

    @functools.cached_property
    def account_id(self) -> str:
        return self.settings.aws_account_id or self.client("sts").get_caller_identity()["Account"]

    def name(self, logical: str) -> str:
        return physical(self.settings.name_prefix, logical)

    def topic_arn(self, topic_key: str) -> str:
        name = self.name(TOPOLOGY.topic(topic_key).name)
        return f"arn:aws:sns:{self.settings.aws_region}:{self.account_id}:{name}"

    def queue_url(self, physical_name: str) -> str:
        url = self._queue_urls.get(physical_name)
        if url is None:
            url = self.client("sqs").get_queue_url(QueueName=physical_name)["QueueUrl"]
            self._queue_urls[physical_name] = url
        return url

    def queue_url_of(self, queue_key: str, dead_letter: bool = False) -> str:
        queue = TOPOLOGY.queue(queue_key)
        return self.queue_url(self.name(queue.dlq_name if dead_letter else queue.name))

    # --- the outbox Publisher protocol ---------------------------------------------------------
    def publish(self, destination: str, event_type: str, body: str, delay_seconds: int = 0) -> None:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "type": {"DataType": "String", "StringValue": event_type}}
        if destination.startswith(QUEUE_DESTINATION):
            self.client("sqs").send_message(
                QueueUrl=self.queue_url_of(destination[len(QUEUE_DESTINATION):]), MessageBody=body,
                DelaySeconds=min(max(delay_seconds, 0), SQS_MAX_DELAY_SECONDS),
                MessageAttributes=attributes)
        else:
            self.client("sns").publish(TopicArn=self.topic_arn(destination), Message=body,
                                       MessageAttributes=attributes)

    # --- queues -------------------------------------------------------------------------------
    def send(self, queue_url: str, body: str, attributes: dict | None = None,
             delay_seconds: int = 0) -> str:
        return self.client("sqs").send_message(
            QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes or {},
            DelaySeconds=min(delay_seconds, SQS_MAX_DELAY_SECONDS))["MessageId"]

    # --- consuming: the local event-source poller and the dead-letter redrive ------------------
    def receive(self, queue_url: str, max_messages: int = 10, wait_seconds: int = 0,
                visibility_timeout: int | None = None) -> list[MessageTypeDef]:
        """Up to `max_messages` with every system and message attribute, as boto3 answers them
        (a long poll when `wait_seconds` > 0)."""
        wait_seconds = max(0, min(int(wait_seconds), 20))
        # A long poll holds the connection for up to `wait_seconds`: read longer than that.
        client = self.client("sqs", read_timeout=wait_seconds + 10)
        kwargs: ReceiveMessageRequestTypeDef = {
            "QueueUrl": queue_url, "MaxNumberOfMessages": max(1, min(max_messages, 10)),
            "WaitTimeSeconds": wait_seconds, "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"]}
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        return client.receive_message(**kwargs).get("Messages", [])

    def delete_batch(self, queue_url: str, receipt_handles: dict[str, str]) -> list[str]:
        """Delete messages given as {message id: receipt handle}; the ids SQS failed to delete."""
        failed: list[str] = []
        items = list(receipt_handles.items())
        for start in range(0, len(items), 10):  # ten entries per call at most
            chunk = items[start:start + 10]
            answer = self.client("sqs").delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": handle} for n, (_, handle) in enumerate(chunk)])
            failed += [chunk[int(f["Id"])][0] for f in answer.get("Failed", [])]
        return failed

    def queue_arn(self, queue_url: str) -> str:
        return self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # --- e-mail (the notify consumer's Mailer) ---------------------------------------------------
    def send_email(self, sender: str, to: str, subject: str, body: str) -> str:
        """Send one plain-text e-mail with SES; SES's message id. Raises MailRejected or
        MailThrottled for those SES answers, any other error as it is."""
        from botocore.exceptions import ClientError

        try:
            return self.client("ses").send_email(
                Source=sender, Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                         "Body": {"Text": {"Data": body, "Charset": "UTF-8"}}})["MessageId"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code in SES_PERMANENT:
                raise MailRejected(f"SES {code}: {message}") from exc
            if code in SES_THROTTLED:
                raise MailThrottled(f"SES {code}: {message}") from exc
            raise

    def delay(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again only after `seconds` (a backoff)."""
        self.client("sqs").change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)


def ensure_topology(settings: Settings, visibility_timeout: int | None = None) -> dict:
    """Create every topic, queue, DLQ, redrive policy and raw-delivery subscription (idempotent).

    For the local stack and tests only: on AWS, Terraform owns these. `visibility_timeout`
    overrides the topology's (short locally, so redelivery is quick). Returns the queue URLs."""
    messaging = Messaging(settings)
    sns = messaging.client("sns")
    topic_arns = {t.key: sns.create_topic(Name=messaging.name(t.name))["TopicArn"]
                  for t in TOPOLOGY.topics}
    urls = {}
    for queue in TOPOLOGY.queues:
        urls[queue.key] = _create_queue_pair(messaging, queue, visibility_timeout)
        queue_arn = messaging.queue_arn(urls[queue.key])
        for topic_key in queue.topics:
            sns.subscribe(TopicArn=topic_arns[topic_key], Protocol="sqs", Endpoint=queue_arn,
                          Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)
    return urls


def ensure_ses_sender(settings: Settings) -> None:
    """Verify the SES sender identity (idempotent). For the local stack and tests only: SES,
    and moto's, refuses to send from an unverified address; on AWS, Terraform verifies it."""
    Messaging(settings).client("ses").verify_email_identity(EmailAddress=settings.ses_sender)


def _create_queue_pair(messaging: Messaging, queue: Queue, visibility_timeout: int | None) -> str:
    sqs = messaging.client("sqs")
    dlq_url = sqs.create_queue(QueueName=messaging.name(queue.dlq_name), Attributes={
        "VisibilityTimeout": str(visibility_timeout or queue.visibility_timeout),
        "MessageRetentionPeriod": str(TOPOLOGY.dlq_retention_seconds)})["QueueUrl"]
    dlq_arn = messaging.queue_arn(dlq_url)
    return sqs.create_queue(QueueName=messaging.name(queue.name), Attributes={
        "VisibilityTimeout": str(visibility_timeout or queue.visibility_timeout),
        "MessageRetentionPeriod": str(TOPOLOGY.queue_retention_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": queue.max_receive_count}),
    })["QueueUrl"]
