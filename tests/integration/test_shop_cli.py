"""`flask --app shop_api db upgrade` and `db seed` on an empty database, as a user runs them."""
import os
import subprocess
import sys

from tests.conftest import new_database_url
from tests.helpers import shop_state


def test_cli_creates_and_seeds_an_empty_database_once(backend, tmp_path):
    url, drop = new_database_url(backend, tmp_path, "cli")
    env = {**os.environ, "SHOP_DATABASE_URL": url}
    flask = [sys.executable, "-m", "flask", "--app", "shop_api"]
    try:
        upgrade = subprocess.run([*flask, "db", "upgrade"], env=env, capture_output=True, text=True)
        assert upgrade.returncode == 0, upgrade.stderr
        first = subprocess.run([*flask, "db", "seed"], env=env, capture_output=True, text=True)
        again = subprocess.run([*flask, "db", "seed"], env=env, capture_output=True, text=True)
        assert "seeded" in first.stdout and "nothing inserted" in again.stdout
        assert shop_state(url)["stock"] == {"Item1": 1, "Item2": 2, "Item3": 3}
    finally:
        drop()
