"""`flask --app factory_api db upgrade|seed` and `flask --app factory_api outbox relay`."""
from api_common.cli import register_database_commands as register  # noqa: F401
