"""The module-level app object: Zappa's `app_function` and gunicorn's `factory_api.wsgi:app`.

The process's log lines are set up here (JSON on Lambda, LOG_FORMAT otherwise), not in
create_app, which tests call many times."""
from factory_api import create_app
from inventory_core import logs
from inventory_core.config import Settings

logs.configure_from("factory", Settings.from_env())
app = create_app()
