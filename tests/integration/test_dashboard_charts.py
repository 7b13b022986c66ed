"""The dashboard page draws its two charts from the shop's own records (issue 13): stock over time
per item from the ledger with each item's reorder point and target, and lead time per factory,
promised against actual, from fulfilled replenishment orders. Server-drawn SVG: the page still has
one script (same-origin) and the same content-security policy. Bounded, and sensible with no data.
SQLite and MariaDB."""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from api_common.headers import CSP
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    Advertisement,
    Factory,
    Item,
    ReplenishmentOrder,
    StockLedgerEntry,
)
from inventory_core.config import Settings
from inventory_core.service_layer import dashboard_charts, shop_service
from shop_api import create_app
from tests.helpers import shop_uow, sign_in

CREDENTIAL = "operator-credential-charts-01234"
NASTY = 'Item3 <b>&"'


@pytest.fixture
def operator(shop_url):
    app = create_app({"SETTINGS": Settings(shop_database_url=shop_url, admin_token=CREDENTIAL),
                      "PUBLISH_AFTER_COMMIT": False})
    client = app.test_client()
    sign_in(client, CREDENTIAL)
    return client


def cells(page: str, kind: str) -> dict[str, str]:
    """Each chart's <li> on the page, by its item or factory id."""
    return dict(re.findall(rf'<li class="chart-cell" data-chart-{kind}="(\d+)">(.*?)</li>', page,
                           re.S))


def svg_of(cell: str) -> ET.Element:
    return ET.fromstring(re.search(r"<svg.*?</svg>", cell, re.S).group(0))


def restocked_order(url: str) -> int:
    """Item1 sold out and restocked by a fulfilled replenishment order: requested 45 s before it
    was fulfilled, promised 30 s after it was requested."""
    order_id = shop_service.purchase(shop_uow(url), "Item1", 1,
                                     "charts").replenishment["replenishment_order_id"]
    shop_service.mark_replenishment_accepted(shop_uow(url), order_id, "P-1")
    shop_service.receive_stock(shop_uow(url), str(uuid.uuid4()), 1, 10, order_id)
    now = utcnow()
    with session_factory(url)() as session:
        session.execute(update(ReplenishmentOrder)
                        .where(ReplenishmentOrder.replenishment_order_id == order_id)
                        .values(created_at=now - timedelta(seconds=45),
                                due_at=now - timedelta(seconds=15), fulfilled_at=now))
        session.commit()
    return order_id


def test_the_page_draws_stock_over_time_and_lead_times_from_the_records(operator, shop_url):
    order_id = restocked_order(shop_url)
    shop_service.set_reorder_rule(shop_uow(shop_url), 2, shop_service.RuleSettings(
        "manual", reorder_point=4, target_level=20))
    with session_factory(shop_url)() as session:
        session.execute(update(Item).where(Item.item_id == 3).values(name=NASTY))
        session.commit()

    answer = operator.get("/dashboard")
    page = answer.get_data(as_text=True)
    assert answer.headers["Content-Security-Policy"] == CSP  # not loosened for the charts
    [script] = re.findall(r"<script\b[^>]*>", page)  # the one same-origin file, nothing inline
    assert script == '<script src="/dashboard/static/dashboard.js">'
    assert 'id="stock-charts"' in page and 'id="lead-time-charts"' in page

    stock = cells(page, "item")
    assert sorted(stock) == ["1", "2", "3"]
    texts = {k: [t.text for t in svg_of(v).iter() if t.text] for k, v in stock.items()}
    assert {"Item1", "reorder point 1", "target 10"} <= set(texts["1"])  # the default rule
    assert {"Item2", "reorder point 4", "target 20"} <= set(texts["2"])  # its own rule
    # Opening 1, sold to 0, restocked to 10: three ledger rows, ending at 10.
    assert "Factory1 · default rule · 3 movements shown · now 10" in stock["1"]
    assert "Factory2 · manual rule · 1 movement shown · now 2" in stock["2"]

    # Escaped wherever the name appears; parsed as XML, it reads back as typed.
    assert NASTY not in page and "Item3 &lt;b&gt;&amp;&#34;" in page
    assert NASTY in texts["3"]

    lead = cells(page, "factory")
    assert sorted(lead) == ["1", "2"]
    tips = [t.text for t in svg_of(lead["1"]).iter("{http://www.w3.org/2000/svg}title")]
    assert f"order #{order_id} (Item1): 45 s, promised 30 s" in tips
    assert "1 order · median 45 s vs 30 s promised · 1 of 1 later than promised" in lead["1"]
    assert "No fulfilled replenishment orders yet." in lead["2"]

    # The feed the page polls carries no charts (they are drawn at page load only).
    assert "stock-charts" not in operator.get("/dashboard/state").get_data(as_text=True)


def test_the_charts_are_bounded(operator, shop_url, monkeypatch):
    restocked_order(shop_url)  # Item1: three ledger rows
    with session_factory(shop_url)() as session:  # Item3's only row, older than the window
        session.execute(update(StockLedgerEntry).where(StockLedgerEntry.item_id == 3)
                        .values(created_at=utcnow() - timedelta(days=30)))
        session.commit()
    page = operator.get("/dashboard").get_data(as_text=True)
    assert "no movements in the window · now 3" in cells(page, "item")["3"]

    monkeypatch.setattr(dashboard_charts, "MAX_ITEMS", 2)
    monkeypatch.setattr(dashboard_charts, "LEDGER_POINTS", 2)
    monkeypatch.setattr(dashboard_charts, "MAX_FACTORIES", 1)
    page = operator.get("/dashboard").get_data(as_text=True)
    assert sorted(cells(page, "item")) == ["1", "2"] and "The first 2 of 3 items." in page
    assert "2 movements shown · now 10" in cells(page, "item")["1"]
    assert sorted(cells(page, "factory")) == ["1"] and "The first 1 of 2 factories." in page


def test_an_empty_shop_draws_empty_states(operator, shop_url):
    page = operator.get("/dashboard").get_data(as_text=True)
    lead = cells(page, "factory")
    assert all("No fulfilled replenishment orders yet." in cell for cell in lead.values())
    assert all("no fulfilled orders" in cell for cell in lead.values())
    with session_factory(shop_url)() as session:
        for table in (Advertisement, StockLedgerEntry, Item, Factory):
            session.execute(delete(table))
        session.commit()
    answer = operator.get("/dashboard")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "No items yet." in page and "No factories yet." in page
