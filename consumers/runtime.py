"""What every consumer needs, built once per Lambda container (reused while it is warm).

A consumer's cold start imports this, the batch loop and its own module: the ORM, the models, the
event schemas and the service layer are imported when its handler first runs (inside the
functions that use them), so the start costs little more than boto3 (bench/coldstart.py)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from inventory_core import logs
from inventory_core.adapters.messaging import SWEEP, Messaging
from inventory_core.config import Settings

if TYPE_CHECKING:
    from inventory_core.service_layer.unit_of_work import UnitOfWork


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    found = Settings.from_env()
    if found.on_lambda:  # JSON log lines (LOG_FORMAT), unless the function's app set them up
        logs.configure_from("consumers", found, only_once=True)
    return found


@functools.lru_cache(maxsize=1)
def messaging() -> Messaging:
    return Messaging(settings())


@functools.lru_cache(maxsize=1)
def sweep_messaging() -> Messaging:
    """The outbox sweep's broker: shorter calls (messaging.SWEEP) fit more into its budget."""
    return Messaging(settings(), SWEEP)


def shop_uow() -> UnitOfWork:
    from inventory_core.databases import SHOP
    return SHOP.unit_of_work(settings(), messaging())


@contextmanager
def shop_batch() -> Iterator[Callable[[], UnitOfWork]]:
    """Units of work for one batch of messages, each its own transaction: all on one database
    connection (taken from the pool once), and the events they commit published together after
    the batch (one pass, one transaction marking them), not after each message. They wait for
    at most the rest of the batch (ten messages); if the function dies first, their claim lapses
    and the outbox sweep sends them. The connection is pinged once, when taken: one the server
    drops mid-batch (a failover) fails the message using it, which SQS redelivers, and the next
    message reconnects."""
    from inventory_core.databases import SHOP
    held: list = []
    with SHOP.one_connection(settings()) as sessions:
        def unit_of_work() -> UnitOfWork:
            uow = SHOP.unit_of_work(settings(), messaging(), sessions=sessions)
            uow.held = held
            return uow

        yield unit_of_work
        unit_of_work().publish(held)


def factory_uow() -> UnitOfWork:
    from inventory_core.databases import FACTORY
    return FACTORY.unit_of_work(settings(), messaging())


def reset() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    settings.cache_clear()
    messaging.cache_clear()
    sweep_messaging.cache_clear()
