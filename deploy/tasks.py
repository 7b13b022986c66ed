"""Tasks a deployed function runs on demand, inside the VPC next to its database:

    zappa invoke shop_dev    deploy.tasks.prepare_shop      # migrate, seed sample data if empty
    zappa invoke factory_dev deploy.tasks.prepare_factory
    zappa invoke shop_prod   deploy.tasks.upgrade_shop      # migrate only (no sample data)
    zappa invoke factory_prod deploy.tasks.upgrade_factory

Each reads its database URL and secret ARN from the stage's environment (inventory_core.config),
puts the user name and password from Secrets Manager into the URL (inventory_core.adapters.db),
and runs inventory_core.adapters.migrate. The shop tasks then write the deployment's recipients
(AD_MANAGER_EMAIL, FACTORY_MANAGER_EMAILS) over the sample data's @example.com managers.
Idempotent: run them after every deploy.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url

from inventory_core.adapters import db, migrate
from inventory_core.adapters import seed as seed_data
from inventory_core.config import Settings
from inventory_core.databases import FACTORY, SHOP

log = logging.getLogger(__name__)
DATABASES = {SHOP.name: SHOP, FACTORY.name: FACTORY}


def database_url(database: str, settings: Settings | None = None) -> str:
    """The URL of `database` ("shop" or "factory") with the secret's credentials in it."""
    return DATABASES[database].url(settings or Settings.from_env())


def _run(database: str, seed: bool) -> dict:
    settings = Settings.from_env()
    url = database_url(database, settings)
    migrate.upgrade(database, url)
    seeded = migrate.seed(database, url) if seed else False
    where = make_url(url)
    answer: dict[str, object] = {
        "database": database, "backend": where.get_backend_name(), "host": where.host,
        "name": where.database, "migrated": True, "seeded": seeded,
        "tls_cipher": db.tls_cipher(url)}
    if database == SHOP.name and (settings.ad_manager_email or settings.factory_manager_emails):
        # AD_MANAGER_EMAIL / FACTORY_MANAGER_EMAILS (Terraform variables) over the sample data's
        # @example.com managers, on every run: the deployment's recipients stay as configured.
        with db.session_factory(url).begin() as session:
            answer["recipients"] = seed_data.set_recipients(
                session, settings.ad_manager_email, dict(settings.factory_manager_emails))
    log.info("database task done: %s", answer)
    return answer


def upgrade_shop(event=None, context=None) -> dict:
    return _run("shop", seed=False)


def upgrade_factory(event=None, context=None) -> dict:
    return _run("factory", seed=False)


def prepare_shop(event=None, context=None) -> dict:
    return _run("shop", seed=True)


def prepare_factory(event=None, context=None) -> dict:
    return _run("factory", seed=True)


# Imported lazily on a request path (first connect, a signed call), so importing the handlers
# alone would not load them.
LAZY_IMPORTS = ("pymysql", "sqlalchemy.dialects.mysql.pymysql",
                "cryptography.hazmat.primitives.asymmetric.rsa",  # MySQL 8 auth
                "botocore.auth", "botocore.awsrequest",  # SigV4 (inventory_core.adapters.aws_auth)
                "alembic.command")  # these tasks


def compiled_modules(root: Path) -> list[str]:
    """Every compiled extension module under `root` (the unpacked package), as a module name."""
    found = []
    for path in root.rglob("*.so"):
        parts = path.relative_to(root).parts
        stem = parts[-1].split(".", 1)[0]
        tagged = ".cpython-" in parts[-1] or ".abi3." in parts[-1]
        if tagged and all(part.isidentifier() for part in (*parts[:-1], stem)):
            found.append(".".join((*parts[:-1], stem)))
    return sorted(found)


def self_check(event=None, context=None) -> dict:
    """Import every function this stage's Zappa settings name (its app, its event sources and
    schedules), what requests import lazily (LAZY_IMPORTS) and every compiled extension in the
    package: `zappa invoke <stage> deploy.tasks.self_check` after a deploy proves the package is
    complete and loads on Lambda's runtime (its glibc), without touching a database or a queue."""
    import importlib
    import os
    import sys

    import zappa_settings  # type: ignore[import-not-found]  # Zappa writes it into the package

    names = sorted({name for functions in getattr(zappa_settings, "AWS_EVENT_MAPPING", {}).values()
                    for name in ([functions] if isinstance(functions, str) else functions)})
    app_module = getattr(zappa_settings, "APP_MODULE", None)
    if app_module:
        names.append(f"{app_module}.{zappa_settings.APP_FUNCTION}")
    for name in names:
        module, attribute = name.rsplit(".", 1)
        getattr(importlib.import_module(module), attribute)
    compiled = compiled_modules(Path(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()))
    for module in (*LAZY_IMPORTS, *compiled):
        importlib.import_module(module)
    return {"stage": zappa_settings.API_STAGE, "python": sys.version.split()[0], "imported": names,
            "compiled": compiled}
