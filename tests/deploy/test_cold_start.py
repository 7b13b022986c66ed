"""A Lambda cold start pays for every import: entry points must not pull in tools they never use
on AWS (Alembic is for the CLI and deploy tasks; Flask is not for the SQS consumers; each
service's functions load only its own database's models; profilers, process tools and
cryptography are for the bench, the local stack and pymysql's sign-in, not for a start).

An import-graph check, not a timing: bench/coldstart.py measures the time (docs/benchmarks.md).
Every function a stage of zappa_settings.json runs is checked."""
import os
import subprocess
import sys

import pytest

from .conftest import load_settings

# Nobody's start needs these (pymysql imports cryptography when it signs in, if the server asks).
TOOLS = ("alembic", "moto", "pytest", "pyinstrument", "psutil", "cryptography", "smtplib")
# A consumer's start: its module, the batch loop, the runtime (settings, boto3). The ORM, the
# models, the event schemas (marshmallow), the service layer and the factory's HTTP client are
# imported when the handler first runs (consumers.runtime).
CONSUMER = (*TOOLS, "flask", "flask_smorest", "jinja2", "sqlalchemy.orm", "marshmallow",
            "requests", "inventory_core.databases", "inventory_core.service_layer",
            "inventory_core.adapters.models", "inventory_core.adapters.outbox",
            "inventory_core.domain.events")
# A web stage's start builds the app; its views and what they use (the OpenAPI stack, the ORM,
# the models, the service layer) are imported on the first request (api_common.app.build_routes).
VIEWS = ("flask_smorest", "marshmallow", "apispec", "yaml", "sqlalchemy.orm",
         "inventory_core.databases", "inventory_core.service_layer", "inventory_core.adapters")
ENTRY_POINTS = {
    "shop_api.wsgi": (*TOOLS, *VIEWS, "jinja2.ext", "inventory_core.adapters.models.factory",
                      "shop_api.items", "shop_api.admin", "shop_api.dashboard",
                      "api_common.charts"),
    "factory_api.wsgi": (*TOOLS, *VIEWS, "inventory_core.adapters.models.shop",
                         "factory_api.orders"),
    "consumers.delivery": CONSUMER,
    "consumers.order": CONSUMER,
    "consumers.production": (*CONSUMER, "inventory_core.adapters.models.shop"),
    "consumers.notify": CONSUMER,
    "consumers.dead_letter": CONSUMER,
    "consumers.outbox_sweep": CONSUMER,
    "consumers.lifecycle": CONSUMER,
    "consumers.learn_rules": CONSUMER,
}


# In-memory databases: neither a start nor the first request may need a real one.
ENVIRONMENT = {**os.environ, "SHOP_DATABASE_URL": "sqlite://", "FACTORY_DATABASE_URL": "sqlite://"}


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_entry_point_imports_nothing_it_does_not_use(module):
    unwanted = ENTRY_POINTS[module]
    # a consumer's container builds its settings and broker at start too (bench/coldstart.py)
    setup = ("from consumers import runtime; runtime.settings(); runtime.messaging(); "
             if module.startswith("consumers.") else "")
    code = (f"import sys, {module}; {setup}"
            f"print(','.join(m for m in {unwanted!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=ENVIRONMENT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"{module} imports {run.stdout.strip()} at cold start"


@pytest.mark.parametrize("module", ["shop_api.wsgi", "factory_api.wsgi"])
def test_the_deployed_app_registers_its_routes_on_the_first_request(module):
    """What the start left out is there when a request comes: the views answer, the document
    lists them."""
    code = (f"import sys, {module} as m; c = m.app.test_client(); "
            "print(c.get('/health').status_code, 'sqlalchemy.orm' in sys.modules, "
            "sorted(c.get('/openapi.json').get_json()['paths'])[:1] != [])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=ENVIRONMENT)
    assert run.returncode == 0, run.stderr
    status, orm_loaded, documented = run.stdout.split()
    assert status == "200" and orm_loaded == "True" and documented == "True", run.stdout


def test_every_deployed_function_is_checked():
    stages = [stage for name, stage in load_settings().items() if name != "base"]
    functions = {event["function"].rsplit(".", 1)[0]
                 for stage in stages for event in stage.get("events", ()) if "function" in event}
    apps = {stage["app_function"].rsplit(".", 1)[0] for stage in stages if "app_function" in stage}
    assert functions and apps
    assert functions | apps <= set(ENTRY_POINTS), (functions | apps) - set(ENTRY_POINTS)
