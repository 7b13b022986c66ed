"""AWS Signature Version 4 between our own services: the order consumer signs its factory calls
the way any AWS API is called (botocore's SigV4Auth, service `execute-api`), and the factory
checks who called.

On AWS, API Gateway's IAM authorization verifies the signature and puts the caller's ARN into
the request context; `is_session_of_role` then tells whether that caller is the writer role.
Locally there is no API Gateway: `verify` does the same check against a known key pair, by
recomputing the signature with botocore's own canonical form. It binds the method, the path and
query as sent, every signed header (always `host` and `x-amz-date`) and the body's SHA-256;
refuses a date more than MAX_SKEW_SECONDS away (a captured request cannot be replayed later);
and compares in constant time.

botocore is imported when first needed: the factory on Lambda never verifies a signature itself,
and its cold start should not pay for the import.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
# API Gateway allows 15 minutes of clock skew; between our own services 5 are plenty.
MAX_SKEW_SECONDS = 300
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-amz-date"})
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")
# arn:<partition>:iam::<account>:role/<optional path/><name>
_ROLE_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):role/"
                       r"(?:.*/)?(?P<name>[\w+=,.@-]+)$")
# arn:<partition>:sts::<account>:assumed-role/<name>/<session>: how STS names a role's session
_SESSION_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/"
                          r"(?P<name>[\w+=,.@-]+)/[\w+=,.@-]+$")


class SignatureRejected(Exception):
    """The request carries no valid signature of the expected key; the message says why (it
    never contains a secret)."""


class NoCredentials(RuntimeError):
    """boto3's default chain found no credentials to sign with."""


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str


# --- signing (the order consumer) --------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _boto_session() -> Any:
    import boto3
    return boto3.session.Session()


def default_credentials() -> ReadOnlyCredentials:
    """The credentials of boto3's default chain, as of now: the function's role on Lambda
    (temporary, with a session token), the local stack's key pair on this machine."""
    credentials = _boto_session().get_credentials()
    if credentials is None:
        raise NoCredentials("no AWS credentials to sign with (boto3's default chain is empty)")
    return credentials.get_frozen_credentials()


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, region: str,
         credentials: ReadOnlyCredentials | None = None) -> dict[str, str]:
    """`headers` plus X-Amz-Date, Authorization (and X-Amz-Security-Token for temporary
    credentials): send the request with exactly these headers and this body."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    SigV4Auth(credentials or default_credentials(), SERVICE, region).add_auth(request)
    return dict(request.headers.items())


# --- verifying (the factory, where no API Gateway does it) -------------------------------------

def verify(method: str, raw_uri: str, headers: Mapping[str, str], body: bytes, key: KeyPair,
           region: str, now: datetime | None = None) -> None:
    """Return if the request was signed with `key` for `region` within MAX_SKEW_SECONDS of
    `now`; raise SignatureRejected otherwise. `raw_uri` is the path and query as sent."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    lower = {name.lower(): value for name, value in headers.items()}
    match = _AUTHORIZATION.match(lower.get("authorization", "").strip())
    if match is None:
        raise SignatureRejected("no AWS Signature Version 4 Authorization header")
    scope = (match["credential"].split("/") + [""] * 5)[:5]
    key_id, date, scope_region, service, terminator = scope
    if not hmac.compare_digest(key_id.encode(), key.access_key_id.encode()):
        raise SignatureRejected("signed with a key this service does not accept")
    if (scope_region, service, terminator) != (region, SERVICE, "aws4_request"):
        raise SignatureRejected(f"credential scope must be <date>/{region}/{SERVICE}/aws4_request")
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected("no valid X-Amz-Date header") from None
    skew = abs(((now or datetime.now(UTC)) - signed_at).total_seconds())
    if skew > MAX_SKEW_SECONDS:
        raise SignatureRejected(f"signed {skew:.0f}s away from now (at most {MAX_SKEW_SECONDS}s)")
    if date != amz_date[:8]:
        raise SignatureRejected("the credential scope's date is not the X-Amz-Date's")
    signed_names = match["signed"].split(";")
    if not set(signed_names) >= REQUIRED_SIGNED_HEADERS:
        raise SignatureRejected("host and x-amz-date must be signed")
    if any(name not in lower for name in signed_names):
        raise SignatureRejected("a signed header is missing from the request")
    body_hash = hashlib.sha256(body).hexdigest()
    # botocore trusts this header as the body's hash instead of hashing the body: make sure it is.
    if lower.get("x-amz-content-sha256", body_hash) != body_hash:
        raise SignatureRejected("X-Amz-Content-SHA256 is not the body's hash")

    # Recompute the signature over what arrived: only the signed headers, the body as received.
    request = AWSRequest(method=method, url=f"http://{lower['host']}{raw_uri}",
                         headers={name: lower[name] for name in signed_names}, data=body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), SERVICE, region)
    if signer.signed_headers(signer.headers_to_sign(request)) != match["signed"]:
        raise SignatureRejected("signed headers that SigV4 never signs")
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)),
                                request)
    if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
        raise SignatureRejected("the signature does not match the request")


# --- the caller API Gateway verified (on AWS) --------------------------------------------------

def is_session_of_role(caller_arn: str | None, role_arn: str) -> bool:
    """True when `caller_arn` (API Gateway's requestContext.identity.userArn) is a session of
    the IAM role `role_arn`: arn:aws:sts::<account>:assumed-role/<role name>/<session>. A role's
    path is not part of its session ARN; partition, account and name must all match."""
    role, session = _ROLE_ARN.match(role_arn or ""), _SESSION_ARN.match(caller_arn or "")
    if role is None or session is None:
        return False
    return all(hmac.compare_digest(role[part], session[part])
               for part in ("partition", "account", "name"))
