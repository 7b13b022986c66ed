"""Database TLS as deployed: a MariaDB server of its own that, like RDS with Terraform's
`db_require_tls`, refuses unencrypted clients, and database URLs that name a CA bundle the way
`deploy.settings` writes them (`?ssl_ca=...`). The services must connect encrypted and verified,
and refuse a server whose certificate another authority signed or names another host."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import create_engine, text

from deploy import rds_ca
from inventory_core.adapters import db, migrate
from inventory_core.config import Settings
from inventory_core.databases import SHOP
from inventory_core.service_layer import shop_service
from tests.conftest import free_port
from tests.tls_certs import make_authority, write_server_files

# One throw-away server for the module: its tests on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("mariadb-tls")


def _binary(name: str) -> str:
    sbin = f"/usr/sbin/{name}"
    found = shutil.which(name) or (sbin if os.path.exists(sbin) else None)
    if not found:
        message = f"{name} is not installed: no private TLS MariaDB server"
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


class TlsServer:
    def __init__(self, folder: Path, port: int, ca_pem: Path):
        self.folder, self.port, self.ca_pem = folder, port, ca_pem
        self.socket = folder / "mysqld.sock"

    def url(self, database: str = "mysql", host: str = "localhost", ca: Path | None = None) -> str:
        base = f"mysql+pymysql://root@{host}:{self.port}/{database}"
        return f"{base}?ssl_ca={ca or self.ca_pem}"

    def admin(self, sql: str) -> None:
        """Over the Unix socket, which require_secure_transport counts as secure."""
        connection = pymysql.connect(unix_socket=str(self.socket), user="root")
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """mariadbd with a throw-away CA, a certificate for `localhost` only, and
    require_secure_transport=ON, on a free port and a data directory of its own."""
    install_db, server_binary = _binary("mariadb-install-db"), _binary("mariadbd")
    folder = tmp_path_factory.mktemp("tls-mariadb")
    authority = make_authority("test RDS CA")
    ca_pem = folder / "ca.pem"
    ca_pem.write_bytes(authority.pem)
    cert, key = write_server_files(authority, ["localhost"], folder / "server")
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    # A temporary directory of its own: in the shared /tmp, the bootstrap's temporary tables
    # were once deleted under it ("Error on delete of '/tmp/#sql-temptable-...'").
    (folder / "tmp").mkdir()
    installed = subprocess.run(
        [install_db, "--no-defaults", f"--datadir={folder / 'data'}", *as_root,
         "--auth-root-authentication-method=normal", "--skip-test-db",
         f"--tmpdir={folder / 'tmp'}"],
        capture_output=True, timeout=120, check=False)
    if installed.returncode != 0:  # say why: CalledProcessError alone shows only the command
        said = (installed.stdout + installed.stderr).decode(errors="replace")[-3000:]
        raise RuntimeError(f"mariadb-install-db exited {installed.returncode}:\n{said}")
    server = TlsServer(folder, free_port(), ca_pem)
    with open(folder / "server.log", "wb") as log:  # the server keeps its own descriptor
        process = subprocess.Popen(
            [server_binary, "--no-defaults", f"--datadir={folder / 'data'}", *as_root,
             f"--port={server.port}", "--bind-address=127.0.0.1", f"--socket={server.socket}",
             f"--pid-file={folder / 'mysqld.pid'}", f"--tmpdir={folder / 'tmp'}",
             "--skip-log-bin", "--skip-name-resolve",
             f"--ssl-ca={ca_pem}", f"--ssl-cert={cert}", f"--ssl-key={key}",
             "--require-secure-transport=ON"],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.admin("SELECT 1")
                break
            except pymysql.MySQLError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "server.log").read_text()[-2000:]) from exc
                time.sleep(0.2)
        yield server
    finally:
        db.dispose_all()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def test_the_shop_migrates_and_sells_over_verified_tls(tls_server):
    tls_server.admin("CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4")
    url = tls_server.url("shop")
    migrate.prepare("shop", url)
    # Encrypted (PyMySQL would encrypt without a CA too); that the CA is checked is what the
    # two refusal tests below show.
    assert db.tls_cipher(url)  # e.g. TLS_AES_256_GCM_SHA384

    outcome = shop_service.purchase(SHOP.unit_of_work(Settings(shop_database_url=url)), 3,
                                    quantity=1, requester="tls-test")
    assert outcome.completed and outcome.remaining == 2
    with db.get_engine(url).connect() as connection:
        quantity = text("SELECT quantity FROM items WHERE item_id = 3")
        assert connection.execute(quantity).scalar() == 2


def test_deploy_settings_urls_name_the_bundle_where_the_package_holds_it():
    url = rds_ca.verified_url("mysql+pymysql://admin@db.example:3306/shop")
    assert url == f"mysql+pymysql://admin@db.example:3306/shop?ssl_ca=/var/task/{rds_ca.RDS_CA_BUNDLE}"
    # What PyMySQL gets from such a URL: the CA file, which turns on verification of both the
    # certificate and the host name (PyMySQL's default once a CA is given).
    engine = create_engine(url)
    _, arguments = engine.dialect.create_connect_args(engine.url)
    assert arguments["ssl"] == {"ca": f"/var/task/{rds_ca.RDS_CA_BUNDLE}"}


def _connect(url: str) -> None:
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_a_server_certificate_of_another_authority_is_refused(tls_server, tmp_path):
    stranger = tmp_path / "other-ca.pem"
    stranger.write_bytes(make_authority("somebody else's CA").pem)
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        _connect(tls_server.url(ca=stranger))


def test_a_certificate_for_another_host_name_is_refused(tls_server):
    _connect(tls_server.url(host="localhost"))  # the name in the certificate: accepted
    refused = r"IP address mismatch|doesn't match|CERTIFICATE_VERIFY_FAILED"
    with pytest.raises(Exception, match=refused):
        _connect(tls_server.url(host="127.0.0.1"))  # same server, a name the certificate lacks


def test_the_server_refuses_the_same_client_unencrypted(tls_server):
    """The stand-in behaves like RDS with `require_secure_transport`, so the tests above run
    against a server that takes nothing but TLS."""
    _connect(tls_server.url())
    engine = create_engine(f"mysql+pymysql://root@localhost:{tls_server.port}/mysql",
                           connect_args={"ssl_disabled": True})
    # MariaDB 10.11 answers "Access denied"; MySQL 8.0 (RDS) "insecure transport are prohibited".
    with pytest.raises(Exception, match=r"Access denied|insecure transport"), engine.connect():
        pass
    engine.dispose()
