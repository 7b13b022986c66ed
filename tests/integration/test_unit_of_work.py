"""The unit of work: what happens after a commit never undoes or repeats it."""
from sqlalchemy.exc import OperationalError

from inventory_core.adapters import outbox
from inventory_core.service_layer import shop_service
from tests.helpers import outbox_types, shop_state, shop_uow


def test_a_failing_post_commit_relay_never_fails_or_repeats_the_committed_sale(shop_url,
                                                                               monkeypatch):
    def database_busy(*args, **kwargs):
        raise OperationalError("claim", {}, Exception(1205, "Lock wait timeout exceeded"))
    monkeypatch.setattr(outbox, "_claim", database_busy)
    result = shop_service.purchase(shop_uow(shop_url, publisher=object()), "Item1", 1, "bob")
    assert result.completed and result.remaining == 0
    state = shop_state(shop_url)
    assert state["purchases"] == 1 and state["stock"]["Item1"] == 0  # sold once, not retried
    # Kept for the sweep:
    assert outbox_types(shop_url) == ["stock.depleted", "replenishment.requested"]
