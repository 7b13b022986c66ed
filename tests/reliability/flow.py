"""Drive the real consumers' handlers by hand with Lambda-shaped SQS events, with every message
the system publishes captured on the way (no broker), so a test decides what is delivered, in
what order, and how often."""
from __future__ import annotations

import functools
import random
import uuid
from dataclasses import dataclass, field

from consumers import delivery, order, production, runtime
from inventory_core.adapters import outbox
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging
from inventory_core.adapters.models.factory import FactoryOutbox
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.topology import TOPOLOGY

HANDLERS = {"order": order.handler, "production": production.handler, "delivery": delivery.handler}


def queues_of(destination: str) -> list[str]:
    """Where SNS (raw delivery) or a direct send puts a message for this outbox destination."""
    if destination.startswith("queue:"):
        return [destination[len("queue:"):]]
    return [q.key for q in TOPOLOGY.queues if destination in q.topics]


@dataclass
class Message:
    queue: str
    body: str
    event_type: str
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class RecordingMessaging(Messaging):
    """The real adapter, except that publishing records the message instead of sending it."""

    def __init__(self, settings):
        super().__init__(settings)
        self.published: list[Message] = []

    def publish(self, destination, event_type, body, delay_seconds=0):
        for queue in queues_of(destination):
            self.published.append(Message(queue, body, event_type))


def lambda_record(settings, message: Message, receive_count: int = 1) -> dict:
    name = f"{settings.name_prefix}-{TOPOLOGY.queue(message.queue).name}"
    return {"messageId": message.message_id, "receiptHandle": uuid.uuid4().hex,
            "body": message.body,
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {"type": {"stringValue": message.event_type,
                                           "dataType": "String"}},
            "md5OfBody": "-", "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{settings.aws_region}:123456789012:{name}",
            "awsRegion": settings.aws_region}


class Flow:
    """The consumers of one deployment, fed by hand. `recorder` is what every consumer and the
    relays publish to (install it with `install(monkeypatch)`)."""

    def __init__(self, settings):
        self.settings = settings
        self.recorder = RecordingMessaging(settings)
        self.delivered: list[Message] = []  # every message handed to a consumer, in order
        self.receives: dict[str, int] = {}

    def install(self, monkeypatch) -> Flow:
        # lru_cache: runtime.reset() clears it like the function it replaces
        monkeypatch.setattr(runtime, "messaging",
                            functools.lru_cache(maxsize=1)(lambda: self.recorder))
        return self

    def relay_outboxes(self) -> list[Message]:
        """Publish what the APIs left in their outboxes; every message published since last time."""
        for url, model in ((self.settings.shop_database_url, ShopOutbox),
                           (self.settings.factory_database_url, FactoryOutbox)):
            while outbox.relay(session_factory(url), model, self.recorder).published:
                pass
        new, self.recorder.published = self.recorder.published, []
        return [m for m in new if m.queue in HANDLERS]  # the notification consumer is not ours

    def deliver(self, queue: str, messages: list[Message]) -> dict:
        records = []
        for message in messages:
            self.receives[message.message_id] = self.receives.get(message.message_id, 0) + 1
            records.append(lambda_record(self.settings, message, self.receives[message.message_id]))
        self.delivered.extend(messages)
        return HANDLERS[queue]({"Records": records}, None)

    def run_clean(self) -> int:
        """Each message once, in the order it was published, until nothing new comes."""
        rounds = 0
        pending = self.relay_outboxes()
        while pending:
            rounds += 1
            for message in pending:
                assert self.deliver(message.queue, [message]) == {"batchItemFailures": []}
            pending = self.relay_outboxes()
        return rounds

    def run_chaotic(self, seed: int) -> int:
        """Every message twice (same message id, as SQS redelivers), shuffled, in random batches
        mixing copies, and old messages delivered again late; at the end everything once more in
        reverse order. Failed records are redelivered, as SQS would."""
        rng = random.Random(seed)
        rounds = 0
        history: list[Message] = []
        pending = self.relay_outboxes()
        retry: list[Message] = []
        while pending or retry:
            rounds += 1
            assert rounds < 50, "the flow does not converge"
            copies = pending * 2 + retry
            copies += rng.sample(history, min(len(history), 3))  # late duplicates
            rng.shuffle(copies)
            history += pending
            retry = []
            while copies:
                queue = copies[0].queue
                size = rng.randint(1, 10)
                batch = [m for m in copies if m.queue == queue][:size]
                # a batch holds each message once (SQS never puts one message twice in a batch)
                unique = list({m.message_id: m for m in batch}.values())
                for m in unique:
                    copies.remove(m)
                answer = self.deliver(queue, unique)
                failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
                retry += [m for m in unique if m.message_id in failed]
            pending = self.relay_outboxes()
        for message in reversed(history):  # the very late duplicates
            assert self.deliver(message.queue, [message]) == {"batchItemFailures": []}
        late = self.relay_outboxes()
        assert late == [], f"late duplicates caused new messages: {[m.event_type for m in late]}"
        return rounds
