"""The module-level app object: Zappa's `app_function` and gunicorn's `factory_api.wsgi:app`.

The process's log lines are set up here (JSON on Lambda, LOG_FORMAT otherwise), not in
create_app, which tests call many times. Routes are registered on the first request
(api_common.app.build_routes): the start imports Flask and the settings, not the views."""
from factory_api import create_app
from inventory_core import logs
from inventory_core.config import Settings

logs.configure_from("factory", Settings.from_env())
app = create_app(routes_on_first_request=True)  # a cold start imports no view
