"""The RDS certificate authorities' bundle that deployed functions verify their databases with.

AWS publishes one bundle for every region (`RDS_CA_URL`). It is public, but it changes when AWS
rotates its CAs, so it is fetched, not committed: `python -m deploy.settings` fetches it into
`RDS_CA_BUNDLE` (ignored by git) when it is missing, Zappa packages it with the code, and every
database URL in the settings names it (`?ssl_ca=/var/task/...`), so PyMySQL checks the server's
certificate and host name. Terraform's `db_require_tls` makes the servers refuse anything else.

    .venv/bin/python -m deploy.rds_ca             # fetch (again), e.g. after AWS rotates its CAs
    .venv/bin/python -m deploy.rds_ca --from FILE # an air-gapped copy instead
"""
from __future__ import annotations

import argparse
import os
import ssl
import sys
import tempfile
import urllib.request
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RDS_CA_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
RDS_CA_BUNDLE = "deploy/certs/rds-global-bundle.pem"  # relative to the project = to the package
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks a zip package
MAX_BUNDLE_BYTES = 2 * 1024 * 1024


class BundleError(ValueError):
    """What was fetched or given is not a bundle of PEM certificates."""


def check(data: bytes) -> int:
    """The number of certificates in `data`; BundleError unless it is a loadable PEM bundle."""
    text = data.decode("ascii", "replace")
    count = text.count("-----BEGIN CERTIFICATE-----")
    if not count or "PRIVATE KEY" in text:
        raise BundleError("not a bundle of PEM certificates")
    try:
        ssl.create_default_context(cadata=text)
    except ssl.SSLError as exc:
        raise BundleError(f"not loadable as CA certificates: {exc}") from exc
    return count


def install(data: bytes, root: Path | None = None) -> Path:
    """Check `data` and write it to the bundle's place in the project (`root`), atomically."""
    check(data)
    target = (root or ROOT) / RDS_CA_BUNDLE
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as temporary:
        temporary.write(data)
    os.replace(temporary.name, target)
    target.chmod(0o644)
    return target


def fetch(url: str | None = None, timeout: float = 30.0) -> bytes:
    url = url or RDS_CA_URL
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # nosec B310: AWS's https URL
        data = answer.read(MAX_BUNDLE_BYTES + 1)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{url} sent more than {MAX_BUNDLE_BYTES} bytes")
    return data


def ensure(root: Path | None = None, url: str | None = None) -> tuple[Path, bool]:
    """The bundle's path, fetched first if it is not there yet; and whether it was fetched."""
    target = (root or ROOT) / RDS_CA_BUNDLE
    if target.exists():
        check(target.read_bytes())
        return target, False
    return install(fetch(url), root), True


def verified_url(url: str) -> str:
    """A MySQL database URL that makes the deployed function verify the server against the
    packaged bundle (certificate and host name); any other URL as it is."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "mysql" or "ssl_ca" in parsed.query:
        return url
    # Appended as text: SQLAlchemy would percent-encode the path's slashes, which reads badly.
    return f"{url}{'&' if parsed.query else '?'}ssl_ca={LAMBDA_TASK_ROOT}/{RDS_CA_BUNDLE}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.rds_ca", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", help="install this file instead of fetching")
    parser.add_argument("--url", default=RDS_CA_URL, help="where to fetch the bundle from")
    args = parser.parse_args(argv)
    try:
        data = Path(args.source).read_bytes() if args.source else fetch(args.url)
        target = install(data)
    except (OSError, BundleError) as exc:
        print(f"no RDS CA bundle installed: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {target}: {check(data)} certificates")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
