"""The two databases, each owned by one service: where its settings are, which outbox it has.

Everything that opens a unit of work (the Flask apps, the consumers, the CLI, the deploy tasks)
goes through these, so the URL, its Secrets Manager credentials and the outbox model are chosen
in one place."""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import sessionmaker

from inventory_core.adapters.db import get_engine, resolve_url, session_factory
from inventory_core.adapters.models.common import OutboxMixin
from inventory_core.adapters.outbox import Publisher, RetryPolicy
from inventory_core.config import Settings
from inventory_core.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Database:
    name: str  # its migrations folder's name too; its models: inventory_core.adapters.models.<name>
    outbox_class: str

    @property
    def outbox_model(self) -> type[OutboxMixin]:
        # Imported on first use: a service's cold start loads only its own database's models.
        return getattr(importlib.import_module(f"inventory_core.adapters.models.{self.name}"),
                       self.outbox_class)

    def url(self, settings: Settings) -> str:
        """The configured URL, with credentials from Secrets Manager when a secret ARN is set."""
        return resolve_url(getattr(settings, f"{self.name}_database_url"),
                           getattr(settings, f"{self.name}_database_secret_arn"))

    def sessions(self, settings: Settings) -> sessionmaker:
        # The password is never in the engine's URL: it is read from the secret at each new
        # connection, so a rotation needs no restart (inventory_core.adapters.db).
        return session_factory(getattr(settings, f"{self.name}_database_url"),
                               getattr(settings, f"{self.name}_database_secret_arn"))

    @contextmanager
    def one_connection(self, settings: Settings) -> Iterator[sessionmaker]:
        """Sessions that all run on one connection, taken from the pool once and given back at
        the end: for a consumer's batch, whose messages each commit on their own. (Taken and
        given back per transaction, a connection costs a ping and a ROLLBACK each time.)"""
        engine = get_engine(getattr(settings, f"{self.name}_database_url"),
                            getattr(settings, f"{self.name}_database_secret_arn"))
        with engine.connect() as connection:
            yield sessionmaker(bind=connection, expire_on_commit=False)

    def unit_of_work(self, settings: Settings, publisher: Publisher | None = None,
                     publish_budget_seconds: float | None = None,
                     sessions: sessionmaker | None = None) -> UnitOfWork:
        return UnitOfWork(sessions or self.sessions(settings), self.outbox_model, publisher,
                          retry_policy(settings), publish_budget_seconds)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.outbox_max_attempts,
                       backoff_seconds=settings.outbox_backoff_seconds)


SHOP = Database("shop", "ShopOutbox")
FACTORY = Database("factory", "FactoryOutbox")
