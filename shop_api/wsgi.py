"""The module-level app object: Zappa's `app_function` and gunicorn's `shop_api.wsgi:app`."""
from shop_api import create_app

app = create_app()
