"""The RDS CA bundle: fetched over HTTP by `deploy.settings` (here from a local server standing in
for AWS's trust store), checked, and put where the database URLs say the package holds it. (The zip
callback's refusal of a package without it: test_callbacks.py.)"""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from deploy import callbacks, rds_ca
from deploy import settings as gen
from tests.tls_certs import make_authority


def test_ensure_fetches_once_checks_and_installs_the_bundle(rds_ca_project, trust_store):
    path, fetched = rds_ca.ensure()
    assert fetched and path == rds_ca_project / rds_ca.RDS_CA_BUNDLE
    assert path.read_bytes() == trust_store.body and rds_ca.check(path.read_bytes()) == 2
    assert rds_ca.ensure() == (path, False)  # there now: not fetched again
    assert trust_store.requests == ["/global/global-bundle.pem"]


@pytest.mark.parametrize("body", [
    b"<html><body>Access denied</body></html>",  # a proxy's or a captive portal's page
    b"",
    b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n",
])
def test_what_is_not_a_certificate_bundle_is_refused_and_nothing_is_written(rds_ca_project,
                                                                            trust_store, body):
    trust_store.body = body
    with pytest.raises(rds_ca.BundleError):
        rds_ca.ensure()
    assert not (rds_ca_project / rds_ca.RDS_CA_BUNDLE).exists()


def test_command_installs_an_air_gapped_copy_or_says_why_not(rds_ca_project, tmp_path, capsys):
    copy = tmp_path / "copy.pem"
    copy.write_bytes(make_authority().pem)
    assert rds_ca.main(["--from", str(copy)]) == 0
    assert (rds_ca_project / rds_ca.RDS_CA_BUNDLE).read_bytes() == copy.read_bytes()
    copy.write_text("nonsense")
    assert rds_ca.main(["--from", str(copy)]) == 1
    assert "no RDS CA bundle installed: not a bundle of PEM certificates" in capsys.readouterr().err


def test_settings_command_fetches_the_bundle_its_urls_name(rds_ca_project, trust_store, tmp_path,
                                                           capsys):
    target = tmp_path / "zappa_settings.json"
    assert gen.main(["--env", "dev", "--outputs", str(gen.EXAMPLE_OUTPUTS["dev"]),
                     "--settings", str(target)]) == 0
    assert (rds_ca_project / rds_ca.RDS_CA_BUNDLE).exists() and len(trust_store.requests) == 1
    assert "fetched" in capsys.readouterr().out
    url = json.loads(target.read_text())["shop_dev"]["environment_variables"]["SHOP_DATABASE_URL"]
    assert url.endswith(f"?ssl_ca=/var/task/{rds_ca.RDS_CA_BUNDLE}")


def test_settings_command_fails_clearly_when_the_bundle_cannot_be_fetched(rds_ca_project,
                                                                         monkeypatch, tmp_path,
                                                                         capsys):
    monkeypatch.setattr(rds_ca, "RDS_CA_URL", "http://127.0.0.1:9/unreachable.pem")
    assert gen.main(["--env", "dev", "--outputs", str(gen.EXAMPLE_OUTPUTS["dev"]),
                     "--settings", str(tmp_path / "zappa_settings.json")]) == 1
    assert "python -m deploy.rds_ca" in capsys.readouterr().err


def test_only_mysql_urls_get_the_bundle_and_an_explicit_choice_is_kept():
    assert rds_ca.verified_url("sqlite:///var/shop.db") == "sqlite:///var/shop.db"
    mine = "mysql+pymysql://admin@db:3306/shop?ssl_ca=/var/task/my-ca.pem"
    assert rds_ca.verified_url(mine) == mine
    assert rds_ca.verified_url("mysql+pymysql://admin@db/shop?charset=utf8mb4") == \
        f"mysql+pymysql://admin@db/shop?charset=utf8mb4&ssl_ca=/var/task/{rds_ca.RDS_CA_BUNDLE}"


def test_no_exclude_pattern_keeps_the_bundle_out_of_a_package():
    parts = Path(rds_ca.RDS_CA_BUNDLE).parts
    assert not [(pattern, part) for pattern in gen.EXCLUDE for part in parts
                if fnmatch.fnmatch(part, pattern)]
    # deploy/callbacks.py may not import the project (Zappa loads it by path): same root, twice.
    assert callbacks.LAMBDA_TASK_ROOT == rds_ca.LAMBDA_TASK_ROOT
