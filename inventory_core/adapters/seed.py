"""Sample data exactly as the seed README shows it, inserted only into empty databases."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inventory_core.adapters.models.factory import FactorySite, ProductionLog
from inventory_core.adapters.models.shop import Advertisement, Factory, Item, StockLedgerEntry

SHOP_FACTORIES = [(1, "Factory1", "korea"), (2, "Factory2", "usa")]
SHOP_ITEMS = [(1, "Item1", 10000, 1, 1), (2, "Item2", 20000, 2, 2), (3, "Item3", 30000, 3, 1)]
# Seed 001's notifications: who hears of stock-outs (ads) and of production orders (factories).
AD_MANAGER_EMAIL = "ads@example.com"
FACTORY_MANAGER_EMAILS = {1: "factory1@example.com", 2: "factory2@example.com"}
FACTORY_LEAD_TIME_SECONDS = {1: 10, 2: 20}  # PRODUCTION_SECONDS overrides these
SAMPLE_LOG = dict(factory_id=1, factory_name="Factory1", item_id=1, item_name="Item1", quantity=5,
                  requester="jeonghun", logged_at=datetime(2023, 5, 18, 9, 46, 48, tzinfo=UTC))


def seed_shop(session: Session) -> bool:
    """Insert the seed's factories and items (with an opening ledger row and an active ad each).
    False if not empty."""
    if session.scalar(select(Item.item_id).limit(1)) is not None:
        return False
    session.add_all(Factory(factory_id=f, name=n, locate=loc,
                            manager_email=FACTORY_MANAGER_EMAILS[f])
                    for f, n, loc in SHOP_FACTORIES)
    session.flush()
    for item_id, name, price, quantity, factory_id in SHOP_ITEMS:
        session.add(Item(item_id=item_id, name=name, price=price, quantity=quantity,
                         factory_id=factory_id))
        session.add(StockLedgerEntry(item_id=item_id, delta=quantity, quantity_after=quantity,
                                     reason="opening", reference="seed"))
    session.flush()
    session.add_all(Advertisement(item_id=item_id, status="active", manager_email=AD_MANAGER_EMAIL)
                    for item_id, *_ in SHOP_ITEMS)
    return True


def seed_factory(session: Session) -> bool:
    if session.scalar(select(FactorySite.factory_id).limit(1)) is not None:
        return False
    session.add_all(FactorySite(factory_id=f, name=n,
                                lead_time_seconds=FACTORY_LEAD_TIME_SECONDS[f])
                    for f, n, _ in SHOP_FACTORIES)
    session.add(ProductionLog(**SAMPLE_LOG))
    return True


def set_recipients(session: Session, ad_manager_email: str | None,
                   factory_manager_emails: dict[int, str]) -> dict[str, int]:
    """Write the deployment's recipients (Terraform variables, through deploy.tasks) over the
    sample data's @example.com addresses, which can never receive mail (RFC 2606). Every ad gets
    the ad manager; each named factory its manager. How many rows each changed."""
    changed = {"advertisements": 0, "factories": 0}
    if ad_manager_email:
        changed["advertisements"] = session.execute(
            update(Advertisement).where(Advertisement.manager_email != ad_manager_email)
            .values(manager_email=ad_manager_email)).rowcount  # type: ignore[attr-defined]
    for factory_id, email in factory_manager_emails.items():
        changed["factories"] += session.execute(
            update(Factory).where(Factory.factory_id == factory_id,
                                  Factory.manager_email != email)
            .values(manager_email=email)).rowcount  # type: ignore[attr-defined]
    return changed
