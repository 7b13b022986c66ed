"""A Lambda cold start pays for every import: entry points must not pull in tools they never use
on AWS (Alembic is for the CLI and deploy tasks; Flask is not for the SQS consumers; each
service's functions load only its own database's models)."""
import subprocess
import sys

import pytest

ENTRY_POINTS = {
    "shop_api.wsgi": ("alembic", "jinja2.ext", "moto", "pytest",
                      "inventory_core.adapters.models.factory"),
    "factory_api.wsgi": ("alembic", "moto", "pytest", "inventory_core.adapters.models.shop"),
    "consumers.delivery": ("alembic", "flask", "moto", "pytest"),
    "consumers.order": ("alembic", "flask", "moto", "pytest"),
    "consumers.production": ("alembic", "flask", "moto", "pytest",
                             "inventory_core.adapters.models.shop"),
    "consumers.notify": ("alembic", "flask", "moto", "pytest"),
    "consumers.dead_letter": ("alembic", "flask", "moto", "pytest"),
    "consumers.outbox_sweep": ("alembic", "flask", "moto", "pytest"),
}


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_entry_point_imports_nothing_it_does_not_use(module):
    unwanted = ENTRY_POINTS[module]
    code = (f"import sys, {module}; "
            f"print(','.join(m for m in {unwanted!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"{module} imports {run.stdout.strip()} at cold start"
