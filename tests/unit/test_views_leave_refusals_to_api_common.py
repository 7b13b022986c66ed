"""The domain's refusals (inventory_core.domain.errors: NotFound 404, Conflict 409,
Unprocessable 422) are answered in one place, api_common.errors: no view catches one to answer it
itself. The seed's routes are the exception (they answer in the seed's own shape and statuses),
and the `flask` CLI commands, which say it on the terminal."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from inventory_core.domain import errors
from inventory_core.service_layer import dead_letters, factory_service, shop_service

ROOT = Path(__file__).resolve().parents[2]
NOT_REST_VIEWS = {"seed_routes.py", "cli.py"}
REFUSALS = {name for module in (shop_service, factory_service, dead_letters, errors)
            for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, errors.DomainError)}


def caught(path: Path) -> set[str]:
    """The names of the exceptions `path`'s except clauses catch."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for kind in (node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]):
                names.add(kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", ""))
    return names


def test_the_refusals_are_known():
    assert {"ItemNotFound", "KeyReused", "ReplenishmentNotFound", "ProductionOrderNotFound",
            "UnknownFactory", "DeadLetterNotFound", "AlreadyRedriven", "InvalidQuantity",
            "NotFound"} <= REFUSALS


@pytest.mark.parametrize("path", sorted(p for package in ("shop_api", "factory_api")
                                        for p in (ROOT / package).glob("*.py")
                                        if p.name not in NOT_REST_VIEWS),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_view_answers_a_refusal_itself(path):
    assert caught(path) & REFUSALS == set()
