"""Schemathesis against each app's own OpenAPI document, in process (WSGI): no answer is a 5xx,
and every documented answer matches its schema. FUZZ_EXAMPLES (default 60) per operation.

The schemas are loaded at import (schemathesis parametrizes then) from apps whose databases are
not made yet; a proxy hands every request to the app the `fuzz_settings` fixture builds."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from inventory_core.config import Settings
from tests.fuzz.conftest import ADMIN
from tests.signing import SigningMiddleware

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 60)
CHECKS = [not_a_server_error, response_schema_conformance]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


class AppProxy:
    """A WSGI app that forwards to `target` (replaced once the databases exist)."""

    def __init__(self, target):
        self.target = target

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


def _document_only(create_app):
    # Serving /openapi.json touches no database.
    return create_app({"SETTINGS": Settings(shop_database_url="sqlite://",
                                            factory_database_url="sqlite://")})


from factory_api import create_app as _create_factory  # noqa: E402
from shop_api import create_app as _create_shop  # noqa: E402

SHOP = AppProxy(_document_only(_create_shop))
FACTORY = AppProxy(_document_only(_create_factory))
shop_schema = schemathesis.openapi.from_wsgi("/openapi.json", SHOP)
factory_schema = schemathesis.openapi.from_wsgi("/openapi.json", FACTORY)


@pytest.fixture(scope="module", autouse=True)
def real_apps(shop_app, factory_app):
    # The factory's writes signed as the order consumer signs them, so they reach its views.
    SHOP.target, FACTORY.target = shop_app, SigningMiddleware(factory_app)


@shop_schema.parametrize()
@FUZZ
def test_shop_api(case):
    case.call_and_validate(headers=ADMIN, checks=CHECKS)


@factory_schema.parametrize()
@FUZZ
def test_factory_api(case):
    case.call_and_validate(headers=ADMIN, checks=CHECKS)
