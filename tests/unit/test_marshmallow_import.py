"""marshmallow's e-mail patterns are compiled on first use, not at import, on every path that
imports marshmallow first (the consumers' event schemas, the APIs' routes), and answer as the
patterns marshmallow compiles itself."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from marshmallow import ValidationError, validate

from inventory_core.domain.marshmallow_import import DeferredPattern

ADDRESSES = ("a@example.com", "kim@xn--3e0b707e.kr", "김@한국.kr", "a@[192.168.0.1]",
             "a@localhost", "@example.com", "a@b", "a@-x.com", "a b@example.com", "a@" + "x" * 70,
             '"quoted"@example.com', "a@example.c0m")


@pytest.mark.parametrize("first_import", [
    "import inventory_core.domain.events",
    "import shop_api; shop_api.create_app({'SHOP_DATABASE_URL': 'sqlite://'})",
    "import factory_api; factory_api.create_app({'FACTORY_DATABASE_URL': 'sqlite://'})",
])
def test_the_paths_that_import_marshmallow_defer_its_email_patterns(first_import):
    code = (f"{first_import}; from marshmallow.validate import Email; "
            "print(type(Email.DOMAIN_REGEX).__name__, type(Email.USER_REGEX).__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["DeferredPattern", "DeferredPattern"]


def test_a_deferred_pattern_answers_as_the_compiled_one():
    for name in ("DOMAIN_REGEX", "USER_REGEX"):
        deferred = getattr(validate.Email, name)
        if not isinstance(deferred, DeferredPattern):  # marshmallow imported first elsewhere
            deferred = DeferredPattern(deferred.pattern, deferred.flags)
        compiled = re.compile(deferred.pattern, deferred.flags)
        for address in ADDRESSES:
            for part in address.rpartition("@")[::2]:
                assert bool(deferred.match(part)) == bool(compiled.match(part)), (name, part)


def test_the_email_validator_still_refuses_what_it_refused():
    email = validate.Email()
    accepted = set()
    for address in ADDRESSES:
        try:
            email(address)
            accepted.add(address)
        except ValidationError:
            pass
    assert "a@example.com" in accepted and "김@한국.kr" in accepted
    assert not accepted & {"@example.com", "a@b", "a b@example.com", "a@-x.com"}
