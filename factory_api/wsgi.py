"""The module-level app object: Zappa's `app_function` and gunicorn's `factory_api.wsgi:app`."""
from factory_api import create_app

app = create_app()
