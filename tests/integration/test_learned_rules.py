"""Learned reorder rules on a real database: demand read from the ledger and backorders, lead
times from the factory's fulfilled orders, the rule rewritten by the scheduled function, manual
rules left alone; the admin route that sets the policy."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from consumers import learn_rules, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    Backorder,
    ReorderRule,
    ReplenishmentOrder,
    StockLedgerEntry,
)
from inventory_core.domain import forecast
from inventory_core.service_layer import forecasting, shop_service
from shop_api import create_app
from tests.helpers import shop_uow
from tests.unit.test_forecast import poisson

TOKEN = "s3cret-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(shop_url):
    app = create_app({"SHOP_DATABASE_URL": shop_url, "ADMIN_TOKEN": TOKEN,
                      "PUBLISH_AFTER_COMMIT": False, "TESTING": True})
    return app.test_client()


def write_history(url, item_id=3, factory_id=1, days=60, mean=4.0, lead_days=(2.0, 2.0),
                  now=None):
    """`days` days of Poisson sales of `item_id` in its ledger (and a backorder now and then),
    and an order of its factory every 4 days whose lead time drifts from lead_days[0] to [1]."""
    now = now or utcnow()
    rng = random.Random(7)
    start = now - timedelta(days=days)
    with session_factory(url).begin() as session:
        session.execute(delete(StockLedgerEntry).where(StockLedgerEntry.item_id == item_id))
        session.add(StockLedgerEntry(item_id=item_id, delta=10_000, quantity_after=10_000,
                                     reason="opening", reference="test", created_at=start))
        for day in range(days):
            at = start + timedelta(days=day, hours=12)
            units = poisson(rng, mean)
            if day % 10 == 3 and units:  # this day's demand came as a backorder
                session.add(Backorder(item_id=item_id, quantity=units, requester="b",
                                      status="filled", created_at=at))
                session.add(StockLedgerEntry(item_id=item_id, delta=-units, quantity_after=0,
                                             reason="sale", reference="backorder:1",
                                             created_at=at + timedelta(days=3)))
            elif units:
                session.add(StockLedgerEntry(item_id=item_id, delta=-units, quantity_after=0,
                                             reason="sale", reference="purchase:1",
                                             created_at=at))
        for day in range(0, days, 4):
            lead = lead_days[0] + (lead_days[1] - lead_days[0]) * day / days
            placed = start + timedelta(days=day)
            if placed + timedelta(days=lead) < now:
                session.add(ReplenishmentOrder(
                    item_id=item_id, quantity=10, status="fulfilled", trigger="reorder_point",
                    requester="t", created_at=placed, fulfilled_at=placed + timedelta(days=lead)))


def set_policy(url, item_id, **columns):
    with session_factory(url).begin() as session:
        rule = session.get(ReorderRule, item_id) or ReorderRule(item_id=item_id, reorder_point=1,
                                                                 target_level=10, multiple=1)
        for name, value in columns.items():
            setattr(rule, name, value)
        session.add(rule)


def test_demand_counts_ledger_sales_and_backorders_when_asked(shop_url):
    now = utcnow()
    write_history(shop_url, days=30, now=now)
    with session_factory(shop_url)() as session:
        units = forecasting.daily_units(session, 3, 28, now)
        total = -sum(session.scalars(select(StockLedgerEntry.delta).where(
            StockLedgerEntry.item_id == 3, StockLedgerEntry.reason == "sale",
            StockLedgerEntry.created_at >= now - timedelta(days=28))))
    assert len(units) == 28
    # Each fill is counted once, on the day it was asked for: the backorder's, not the fill's
    # (all of them, and their fills, fall in the window here). Dropping the backorders or
    # counting the fills as well would be off by their units.
    assert total > 0 and sum(units) == total
    assert 3.0 < forecast.daily_demand(units).mean < 5.0


def test_the_scheduled_function_learns_learned_rules_and_leaves_manual_ones(shop_url,
                                                                           monkeypatch):
    write_history(shop_url, item_id=3, lead_days=(2.0, 2.0))
    set_policy(shop_url, 3, policy="learned")
    set_policy(shop_url, 1, policy="manual", reorder_point=5, target_level=12)
    monkeypatch.setenv("SHOP_DATABASE_URL", shop_url)
    monkeypatch.delenv("SHOP_DATABASE_SECRET_ARN", raising=False)
    runtime.reset()
    try:
        assert learn_rules.handler({}, None) == {"rules": 1, "learned": 1}
    finally:
        runtime.reset()
    item = shop_service.get_item(shop_uow(shop_url), 3)
    assert item["reorder_policy"] == "learned"
    learned = item["learned"]
    assert learned["lead_time_mean_days"] == pytest.approx(2.0, abs=0.01)
    assert 3.0 < learned["demand_mean"] < 5.0 and learned["lead_time_samples"] >= 10
    # d·L ≈ 8, plus safety stock for 95 %: z·√(L·sd²) ≈ 1.64·√(2·4) ≈ 4.7
    assert 10 <= item["reorder_point"] <= 16
    assert item["target_level"] == item["reorder_point"] + round(learned["demand_mean"] * 7 + 0.5)
    manual = shop_service.get_item(shop_uow(shop_url), 1)
    assert (manual["reorder_point"], manual["target_level"], manual["learned"]) == (5, 12, None)


def test_a_slower_factory_raises_the_learned_point(shop_url):
    write_history(shop_url, lead_days=(2.0, 2.0))
    set_policy(shop_url, 3, policy="learned")
    fast = forecasting.learn_rule(shop_uow(shop_url), 3)
    write_history(shop_url, lead_days=(2.0, 8.0))  # the same demand, a factory falling behind
    with session_factory(shop_url).begin() as session:
        session.execute(delete(ReplenishmentOrder).where(
            ReplenishmentOrder.created_at < utcnow() - timedelta(days=100)))
    slow = forecasting.learn_rule(shop_uow(shop_url), 3)
    assert fast["learned"] and slow["learned"]
    assert slow["reorder_point"] > fast["reorder_point"] + 5


def test_too_little_history_keeps_the_rule_and_says_why(shop_url):
    set_policy(shop_url, 2, policy="learned", reorder_point=3, target_level=9)
    result = forecasting.learn_rule(shop_uow(shop_url), 2)
    assert result["learned"] is False and "needed" in result["note"]
    item = shop_service.get_item(shop_uow(shop_url), 2)
    assert (item["reorder_point"], item["target_level"]) == (3, 9)
    assert item["learned"]["note"] == result["note"]


def test_operators_set_the_policy_through_the_api(client, shop_url):
    path = "/admin/items/3/reorder-rule"
    body = {"policy": "manual", "reorder_point": 4, "target_level": 20, "multiple": 2}
    assert client.put(path, json=body).status_code in (401, 403)
    answer = client.put(path, json=body, headers=AUTH)
    assert answer.status_code == 200, answer.get_json()
    item = answer.get_json()
    assert (item["reorder_point"], item["target_level"], item["reorder_multiple"],
            item["reorder_policy"]) == (4, 20, 2, "manual")
    write_history(shop_url)
    learned = client.put(path, json={"policy": "learned", "service_level": 0.99,
                                     "window_days": 14}, headers=AUTH).get_json()
    assert learned["reorder_policy"] == "learned"
    assert learned["learned"]["service_level"] == 0.99
    assert learned["learned"]["window_days"] == 14
    assert learned["reorder_point"] > 4  # learned at once, not at the next hour
    assert client.get("/items/3").get_json()["learned"] == learned["learned"]


@pytest.mark.parametrize("body", [
    {"policy": "sometimes"},
    {"policy": "manual"},  # a manual rule needs its numbers
    {"policy": "manual", "reorder_point": 9, "target_level": 5},
    {"policy": "manual", "reorder_point": -1, "target_level": 5},
    {"policy": "learned", "service_level": 1.5},
    {"policy": "learned", "window_days": 0},
    {"policy": "learned", "reorder_point": 3},  # learned numbers are not typed in
])
def test_bad_rules_answer_422_and_change_nothing(client, shop_url, body):
    before = client.get("/items/3").get_json()
    answer = client.put("/admin/items/3/reorder-rule", json=body, headers=AUTH)
    assert answer.status_code == 422, answer.get_json()
    assert client.get("/items/3").get_json() == before


def test_an_unknown_item_answers_404(client):
    answer = client.put("/admin/items/99/reorder-rule", headers=AUTH,
                        json={"policy": "manual", "reorder_point": 1, "target_level": 2})
    assert answer.status_code == 404


def test_the_dashboard_shows_the_learned_values_and_their_inputs(client, shop_url):
    from tests.helpers import sign_in
    write_history(shop_url)
    client.put("/admin/items/3/reorder-rule", json={"policy": "learned"}, headers=AUTH)
    sign_in(client, TOKEN)
    state = client.get("/dashboard/state").get_json()
    item3 = next(i for i in state["items"] if i["item_id"] == 3)
    assert item3["reorder_policy"] == "learned" and item3["learned"]["lead_time_samples"] >= 10
    page = client.get("/dashboard").get_data(as_text=True)
    assert f'data-learned="3">learned: demand {item3["learned"]["demand_mean"]}' in page
    assert 'data-learned="1"' not in page  # a manual rule shows no learned line
