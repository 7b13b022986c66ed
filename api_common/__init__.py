"""What both Flask services share: settings from config, JSON errors, OpenAPI set-up, admin auth.

Kept out of inventory_core, which has no Flask in it."""
from api_common.app import build_app, settings_of  # noqa: F401
