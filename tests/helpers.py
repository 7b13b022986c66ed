"""Small helpers shared by tests: units of work on a test database and a snapshot of its state."""
from __future__ import annotations

from sqlalchemy import func, select

from inventory_core.adapters.db import get_engine, session_factory
from inventory_core.adapters.models.shop import (
    Item,
    Purchase,
    ReplenishmentOrder,
    ShopOutbox,
    StockLedgerEntry,
)
from inventory_core.service_layer.unit_of_work import UnitOfWork


def shop_uow(url: str, publisher=None) -> UnitOfWork:
    return UnitOfWork(session_factory(url), ShopOutbox, publisher)


def shop_state(url: str) -> dict:
    """Everything a request could have changed in the shop database."""
    with session_factory(url)() as session:
        return {
            "stock": dict(session.execute(select(Item.name, Item.quantity)).all()),
            "purchases": session.scalar(select(func.count()).select_from(Purchase)),
            "ledger": session.scalar(select(func.count()).select_from(StockLedgerEntry)),
            "replenishments": session.scalar(select(func.count()).select_from(ReplenishmentOrder)),
            "outbox": session.scalar(select(func.count()).select_from(ShopOutbox)),
        }


def outbox_types(url: str) -> list[str]:
    with session_factory(url)() as session:
        return list(session.scalars(select(ShopOutbox.event_type).order_by(ShopOutbox.outbox_id)))


def checked_out_connections(url: str) -> int:
    return get_engine(url).pool.checkedout()


def sign_in(client, credential: str) -> str:
    """Sign a Flask test client in to the dashboard as an operator; the session's CSRF token
    (read from the page, as the dashboard's script reads it)."""
    import re

    answer = client.post("/dashboard/login", data={"credential": credential})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    page = client.get("/dashboard").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
