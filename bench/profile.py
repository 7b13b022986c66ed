"""The profile of the slowest part: purchases through the Flask app (no HTTP server between), on
MariaDB, under pyinstrument."""
from __future__ import annotations

from bench.common import mysql_database


def purchase_profile(count: int) -> str:
    from pyinstrument import Profiler

    from inventory_core.adapters.db import session_factory
    from inventory_core.adapters.models.shop import ShopOutbox
    from inventory_core.service_layer import shop_service
    from inventory_core.service_layer.unit_of_work import UnitOfWork
    from shop_api import create_app
    with mysql_database("shop") as url:
        shop_service.adjust_stock(UnitOfWork(session_factory(url), ShopOutbox), 3, 1_000_000 - 3,
                                  "bench")
        app = create_app({"SHOP_DATABASE_URL": url, "PUBLISH_AFTER_COMMIT": False})
        client = app.test_client()
        body = {"item_id": 3, "quantity": 1, "requester": "bench"}
        for _ in range(20):
            client.post("/purchases", json=body)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(count):
            assert client.post("/purchases", json=body).status_code == 201
        profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)
    return "\n".join(text.splitlines()[:60])
