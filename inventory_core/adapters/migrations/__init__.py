"""Alembic migrations, one environment per database (each service owns its own)."""
