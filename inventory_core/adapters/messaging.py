"""boto3 adapter for SNS, SQS and SES: the only module that talks to the message brokers.

The domain never imports it; entry points build a `Messaging` and hand its publisher to the unit of
work. `AWS_ENDPOINT_URL` (read into Settings) points every client at moto's server locally.
"""
from __future__ import annotations

import contextlib
import functools
import json
import threading
from dataclasses import dataclass
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



@dataclass(frozen=True)
class ClientProfile:
    """How long one call of a boto3 client may take: its connect and read timeouts and how many
    attempts botocore makes (the first and its retries)."""

    connect_timeout: float
    read_timeout: float
    attempts: int

    def config(self, read_timeout: float | None = None) -> Config:
        return Config(connect_timeout=self.connect_timeout,
                      read_timeout=self.read_timeout if read_timeout is None else read_timeout,
                      retries={"total_max_attempts": self.attempts, "mode": "standard"})

    @property
    def worst_case_seconds(self) -> float:
        """The longest one call can take: every attempt timing out (connect, then read), plus
        botocore's standard-mode backoff before retry i (at most 2**i s, throttling's scale)."""
        return ((self.connect_timeout + self.read_timeout) * self.attempts
                + (2 ** self.attempts - 2))


# Consumers and the admin routes: fail reasonably fast, retry twice.
READ_TIMEOUT_SECONDS = 5
STANDARD = ClientProfile(connect_timeout=2, read_timeout=READ_TIMEOUT_SECONDS, attempts=3)
# The outbox sweep: it starts a publish only while this worst case (3 s) still fits in its time
# budget (consumers.outbox_sweep), so shorter calls leave it more of the budget to publish in.
# No retry within a call: the next sweep is the retry, with backoff (outbox.RetryPolicy).
SWEEP = ClientProfile(connect_timeout=1, read_timeout=2, attempts=1)
# Publishing right after a request's commit: the buyer is waiting, and the sale is already
# committed. One attempt, short timeouts; the outbox relay gives it about a second in all
# (REQUEST_PATH_BUDGET_SECONDS) and the sweep sends whatever did not make it. An SNS Publish is
# a few tens of milliseconds when SNS is well.
REQUEST_PATH = ClientProfile(connect_timeout=0.2, read_timeout=0.4, attempts=1)
REQUEST_PATH_BUDGET_SECONDS = 1.0


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
    def __init__(self, settings: Settings, profile: ClientProfile = STANDARD):
        self.settings = settings
        self.profile = profile
        self._lock = threading.Lock()  # a boto3 Session may not create clients concurrently
        # One session for every client: they share botocore's loaded service models, which makes
        # each client after the first several times cheaper (a Lambda cold start pays for them).
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, float | None], Any] = {}
        self._queue_urls: dict[str, str] = {}
        self._warm = False

    @overload
    def client(self, service: Literal["sqs"], read_timeout: float | None = ...) -> SQSClient: ...
    @overload
    def client(self, service: Literal["sns"], read_timeout: float | None = ...) -> SNSClient: ...
    @overload
    def client(self, service: Literal["ses"], read_timeout: float | None = ...) -> SESClient: ...
    @overload
    def client(self, service: Literal["sts"], read_timeout: float | None = ...) -> STSClient: ...

    def client(self, service: Literal["sqs", "sns", "ses", "sts"],
               read_timeout: float | None = None) -> Any:
        """The client for `service` with this Messaging's profile, made once per read timeout
        (a long poll needs a longer one than the profile's)."""
        key = (service, read_timeout)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=self.settings.aws_region,
                    endpoint_url=self.settings.aws_endpoint_url,
                    config=self.profile.config(read_timeout))
            return self._clients[key]

    def warm(self) -> None:
        """Make, once, what a publish needs, before a relay starts its clock: the clients (CPU
        only, but a cold process takes a while over it) and the account id of topic ARNs (set
        on AWS; read from STS locally, within this profile's timeouts)."""
        if self._warm:
            return
        self._warm = True
        self.client("sns")
        self.client("sqs")
        with contextlib.suppress(Exception):  # if not, publish reads it, within its budget
            _ = self.account_id

    @property
    def publish_timeout_seconds(self) -> float:
        """How long one `publish` may take at worst (the outbox relay starts one only when that
        much of its time budget is left)."""
        return self.profile.worst_case_seconds

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
