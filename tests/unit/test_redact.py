"""local_stack.stack_config.redact: database URLs as the stack prints them (SQLAlchemy's
rendering, password hidden)."""
from __future__ import annotations

import pytest

from local_stack.stack_config import redact


@pytest.mark.parametrize("url, shown", [
    ("mysql+pymysql://app:s3cr%40t:x@db.example:3306/shop",
     "mysql+pymysql://app:***@db.example:3306/shop"),
    ("mysql+pymysql://root@127.0.0.1:3306/shop", "mysql+pymysql://root@127.0.0.1:3306/shop"),
    ("sqlite:////work/var/shop.db", "sqlite:////work/var/shop.db"),
])
def test_the_password_is_hidden_and_the_rest_shown(url, shown):
    assert redact(url) == shown


def test_what_is_no_url_is_not_printed_at_all():
    assert redact("s3cret password, pasted in the wrong variable") == "<not a database URL>"
