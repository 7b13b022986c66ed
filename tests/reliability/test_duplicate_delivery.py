"""Every message of full replenishment flows delivered twice and out of order ends in the same
shop and factory databases as one clean delivery of each (MariaDB, the real handlers)."""
from __future__ import annotations

from sqlalchemy import func, select

from consumers import runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.factory import (
    FactoryOutbox,
    FactoryProcessedEvent,
    ProductionLog,
    ProductionOrder,
)
from inventory_core.adapters.models.shop import (
    Item,
    Purchase,
    ReplenishmentOrder,
    ShopOutbox,
    ShopProcessedEvent,
    StockLedgerEntry,
)
from inventory_core.config import Settings
from inventory_core.service_layer import shop_service
from tests.helpers import shop_uow
from tests.integration.conftest import ServerThread
from tests.reliability.flow import Flow
from tests.signing import WRITER

PURCHASES = [("Item2", 5), ("Item1", 1), ("Item3", 5)] + [("Item2", 7)] * 5


def deployment(fresh_database, moto_endpoint, label: str) -> Settings:
    return Settings(shop_database_url=fresh_database("shop", f"{label}s"),
                    factory_database_url=fresh_database("factory", f"{label}f"),
                    aws_endpoint_url=moto_endpoint, name_prefix=f"dup{label}", production_seconds=0,
                    **WRITER)


def run(settings: Settings, monkeypatch, chaotic_seed: int | None) -> dict:
    from factory_api import create_app
    factory_app = create_app({"SETTINGS": settings, "PUBLISH_AFTER_COMMIT": False})
    factory = ServerThread(factory_app).start()
    try:
        settings = settings.but(factory_api_url=factory.url)
        for name, value in {"SHOP_DATABASE_URL": settings.shop_database_url,
                            "FACTORY_DATABASE_URL": settings.factory_database_url,
                            "FACTORY_API_URL": factory.url, "NAME_PREFIX": settings.name_prefix,
                            "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
                            "PRODUCTION_SECONDS": "0"}.items():
            monkeypatch.setenv(name, value)
        runtime.reset()
        flow = Flow(settings).install(monkeypatch)
        for name, quantity in PURCHASES:
            shop_service.purchase(shop_uow(settings.shop_database_url), name, quantity, "dup")
        rounds = flow.run_clean() if chaotic_seed is None else flow.run_chaotic(chaotic_seed)
        return {"rounds": rounds, "deliveries": len(flow.delivered), "state": final_state(settings)}
    finally:
        factory.stop()
        runtime.reset()


def final_state(settings: Settings) -> dict:
    with session_factory(settings.factory_database_url)() as f:
        production_orders = f.execute(select(
            ProductionOrder.production_order_id, ProductionOrder.replenishment_order_id,
            ProductionOrder.factory_id, ProductionOrder.item_id, ProductionOrder.quantity,
            ProductionOrder.status)).all()
        replenishment_of = {str(p[0]): p[1] for p in production_orders}
        factory = {
            # production order ids depend on arrival order: compare them by what they are for
            "production_orders": sorted(p[1:] for p in production_orders),
            "logs": sorted(f.execute(select(ProductionLog.item_id, ProductionLog.quantity,
                                            ProductionLog.requester)).all()),
            "outbox": sorted(f.execute(select(FactoryOutbox.event_type, func.count())
                                       .group_by(FactoryOutbox.event_type)).all()),
            "unpublished": f.scalar(select(func.count()).select_from(FactoryOutbox)
                                    .where(FactoryOutbox.published_at.is_(None))),
            "processed": f.scalar(select(func.count()).select_from(FactoryProcessedEvent)),
        }
    with session_factory(settings.shop_database_url)() as s:
        shop = {
            "items": sorted(s.execute(select(Item.item_id, Item.quantity)).all()),
            "ledger": sorted(s.execute(select(StockLedgerEntry.item_id, StockLedgerEntry.delta,
                                              StockLedgerEntry.quantity_after,
                                              StockLedgerEntry.reason)).all()),
            "purchases": sorted(s.execute(select(Purchase.item_id, Purchase.quantity,
                                                 Purchase.status, Purchase.remaining)).all()),
            "replenishments": sorted(
                (r.replenishment_order_id, r.item_id, r.quantity, r.status, r.received_quantity,
                 r.open_item_id, replenishment_of.get(r.factory_reference))
                for r in s.scalars(select(ReplenishmentOrder)).unique()),
            "outbox": sorted(s.execute(select(ShopOutbox.event_type, func.count())
                                       .group_by(ShopOutbox.event_type)).all()),
            "processed": s.scalar(select(func.count()).select_from(ShopProcessedEvent)),
        }
    return {"shop": shop, "factory": factory}


def test_duplicated_shuffled_delivery_ends_like_one_clean_delivery(fresh_database, moto_endpoint,
                                                                   monkeypatch):
    clean = run(deployment(fresh_database, moto_endpoint, "c"), monkeypatch, None)
    # the clean flow did the whole job: every replenishment fulfilled by its own production order
    replenishments = clean["state"]["shop"]["replenishments"]
    assert len(replenishments) == 3
    assert all(r[3] == "fulfilled" and r[6] == r[0] for r in replenishments), replenishments
    for seed in (1, 2):
        chaotic = run(deployment(fresh_database, moto_endpoint, f"x{seed}"), monkeypatch, seed)
        assert chaotic["deliveries"] > 2 * clean["deliveries"]
        assert chaotic["state"] == clean["state"]
