"""`make deploy-rehearsal` as a test: the whole deploy cycle against moto's server
(tests/deploy/rehearsal.py says what it proves and what it cannot)."""
from __future__ import annotations

import pytest

from tests.deploy import rehearsal

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_zappa_deploy_update_status_undeploy_against_moto(tmp_path):
    result = rehearsal.rehearse(tmp_path)
    assert ".execute-api." in result["factory_url"]
