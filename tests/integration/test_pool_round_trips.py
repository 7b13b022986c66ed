"""The pool sends its liveness ping and its ROLLBACK on return only when they can matter
(inventory_core.adapters.db._skip_needless_round_trips), and stays as safe as with both always on:
a connection left in a transaction is still rolled back, a dead idle one still replaced."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from inventory_core.adapters import db

MYSQL_ONLY = pytest.mark.parametrize("backend", ["mysql"])  # the pool of the MySQL engines


def rollbacks_and_id(connection) -> tuple[int, int]:
    """This server session's ROLLBACK count so far, and its id."""
    count = connection.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'")).one()[1]
    return int(count), connection.execute(text("SELECT CONNECTION_ID()")).scalar_one()


@pytest.fixture
def engine(shop_url):
    engine = db.make_engine(shop_url)
    yield engine
    engine.dispose()


@MYSQL_ONLY
def test_a_connection_returned_after_a_commit_is_not_rolled_back_again(engine):
    with engine.connect() as connection:
        before, session_id = rollbacks_and_id(connection)
        connection.commit()
    with engine.connect() as connection:  # the same connection, back from the pool
        after, again = rollbacks_and_id(connection)
        connection.commit()
    assert again == session_id
    assert after == before


@MYSQL_ONLY
def test_a_connection_used_below_sqlalchemy_is_still_rolled_back_on_return(engine):
    with engine.connect() as connection:
        stock = connection.execute(text("SELECT quantity FROM items WHERE item_id = 1")).scalar()
        connection.commit()
    raw = engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("UPDATE items SET quantity = quantity + 5 WHERE item_id = 1")
    cursor.close()
    raw.close()  # uncommitted: back to the pool, where the reset must end the transaction
    with engine.connect() as connection:  # the same connection, or it would be rolled back
        assert connection.execute(
            text("SELECT quantity FROM items WHERE item_id = 1")).scalar() == stock
        connection.commit()


@MYSQL_ONLY
def test_an_idle_connection_that_died_is_replaced_before_use(engine, monkeypatch):
    with engine.connect() as connection:
        dead = connection.execute(text("SELECT CONNECTION_ID()")).scalar_one()
        connection.commit()
    killer = db.make_engine(str(engine.url.render_as_string(hide_password=False)))
    try:
        with killer.connect() as connection:
            connection.execute(text(f"KILL {int(dead)}"))
    finally:
        killer.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # it has been idle long enough
    with engine.connect() as connection:
        assert connection.execute(text("SELECT CONNECTION_ID()")).scalar_one() != dead
        connection.commit()
