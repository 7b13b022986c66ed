"""SigV4 between our services: what botocore signs, `verify` accepts, and any change to the
method, path, query, body or a signed header, another key, another region or a stale date is
refused; `is_session_of_role` reads STS session ARNs as API Gateway reports them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import ReadOnlyCredentials

from inventory_core.adapters import aws_auth
from tests.signing import REGION, WRITER_CREDENTIALS, signed_headers

KEY = aws_auth.KeyPair("testing", "testing")
URL = "http://127.0.0.1:5001/production-orders?dry=1&b=2"
BODY = b'{"replenishment_order_id":1,"quantity":8}'


def check(method="POST", raw_uri="/production-orders?dry=1&b=2", headers=None, body=BODY,
          key=KEY, region=REGION, now=None):
    # The Host header is the HTTP client's (botocore signs the URL's host, which it sends).
    aws_auth.verify(method, raw_uri, {"Host": "127.0.0.1:5001", **headers}, body, key, region, now)


@pytest.fixture
def headers():
    return signed_headers("POST", URL, BODY, headers={"X-Correlation-Id": "c-1"})


def test_a_request_botocore_signed_is_accepted(headers):
    check(headers=headers)
    assert "host" in headers["Authorization"] and "x-correlation-id" in headers["Authorization"]


def test_temporary_credentials_sign_their_session_token_too():
    credentials = ReadOnlyCredentials("testing", "testing", "session-token")
    headers = signed_headers("POST", URL, BODY, credentials=credentials)
    assert headers["X-Amz-Security-Token"] == "session-token"
    check(headers=headers)


@pytest.mark.parametrize("change", [
    {"method": "PUT"},
    {"raw_uri": "/log?dry=1&b=2"},
    {"raw_uri": "/production-orders?dry=1&b=3"},
    {"raw_uri": "/production-orders"},
    {"body": BODY.replace(b"8", b"8000")},
    {"body": b""},
], ids=["method", "path", "query", "query-dropped", "body", "body-dropped"])
def test_any_change_to_the_request_breaks_the_signature(headers, change):
    with pytest.raises(aws_auth.SignatureRejected, match="does not match"):
        check(headers=headers, **change)


def test_a_changed_signed_header_breaks_the_signature(headers):
    with pytest.raises(aws_auth.SignatureRejected, match="does not match"):
        check(headers={**headers, "X-Correlation-Id": "c-2"})


def test_a_signed_header_cannot_be_left_out(headers):
    del headers["X-Correlation-Id"]
    with pytest.raises(aws_auth.SignatureRejected, match="missing"):
        check(headers=headers)


def test_another_key_is_refused():
    stranger = ReadOnlyCredentials("AKIASTRANGER", "testing", None)
    with pytest.raises(aws_auth.SignatureRejected, match="key this service does not accept"):
        check(headers=signed_headers("POST", URL, BODY, credentials=stranger))


def test_the_right_key_id_with_a_wrong_secret_is_refused():
    guessed = ReadOnlyCredentials("testing", "guessed-secret", None)
    with pytest.raises(aws_auth.SignatureRejected, match="does not match"):
        check(headers=signed_headers("POST", URL, BODY, credentials=guessed))


def test_another_region_or_service_is_refused(headers):
    with pytest.raises(aws_auth.SignatureRejected, match="scope"):
        check(headers=headers, region="us-east-1")
    sqs = headers["Authorization"].replace("/execute-api/", "/sqs/")
    with pytest.raises(aws_auth.SignatureRejected, match="scope"):
        check(headers={**headers, "Authorization": sqs})


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_stale_or_future_date_is_refused(headers, minutes):
    signed_at = datetime.strptime(headers["X-Amz-Date"] + "+0000", "%Y%m%dT%H%M%SZ%z")
    with pytest.raises(aws_auth.SignatureRejected, match="away from now"):
        check(headers=headers, now=signed_at + timedelta(minutes=minutes))
    check(headers=headers, now=signed_at + timedelta(minutes=4))


def test_a_replay_with_a_fresh_date_header_breaks_the_signature(headers):
    fresh = datetime.now(UTC).replace(year=2031).strftime(aws_auth.AMZ_DATE_FORMAT)
    with pytest.raises(aws_auth.SignatureRejected):
        check(headers={**headers, "X-Amz-Date": fresh},
              now=datetime.strptime(fresh, aws_auth.AMZ_DATE_FORMAT).replace(tzinfo=UTC))


def test_a_body_hash_header_must_be_the_bodys(headers):
    import hashlib
    forged = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(b"other").hexdigest()}
    with pytest.raises(aws_auth.SignatureRejected, match="body's hash"):
        check(headers=forged)


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer abc", "AWS4-HMAC-SHA256 Credential=testing", "Basic dGVzdGluZzp0ZXN0aW5n",
    "AWS4-HMAC-SHA256 Credential=testing/20260101/ap-northeast-2/execute-api/aws4_request, "
    "SignedHeaders=content-type, Signature=" + "0" * 64,
])
def test_a_missing_or_malformed_authorization_is_refused(headers, authorization):
    headers = {k: v for k, v in headers.items() if k != "Authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    with pytest.raises(aws_auth.SignatureRejected):
        check(headers=headers)


def test_unsigned_host_is_refused():
    # Signed without the host header (a hand-made signature): the request could be aimed anywhere.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    class NoHost(SigV4Auth):
        def headers_to_sign(self, request):
            names = super().headers_to_sign(request)
            del names["host"]
            return names

    request = AWSRequest(method="POST", url=URL, data=BODY)
    NoHost(WRITER_CREDENTIALS, aws_auth.SERVICE, REGION).add_auth(request)
    headers = dict(request.headers.items())
    with pytest.raises(aws_auth.SignatureRejected, match="host and x-amz-date"):
        check(headers=headers)


ROLE = "arn:aws:iam::123456789012:role/replenish-dev-consumers"
LAMBDA_SESSION = "stock-replenishment-consumers-dev"  # Lambda names a role's session so


@pytest.mark.parametrize("caller,accepted", [
    (f"arn:aws:sts::123456789012:assumed-role/replenish-dev-consumers/{LAMBDA_SESSION}", True),
    ("arn:aws:sts::123456789012:assumed-role/replenish-dev-shop/stock-replenishment-shop", False),
    ("arn:aws:sts::999999999999:assumed-role/replenish-dev-consumers/session", False),
    ("arn:aws-cn:sts::123456789012:assumed-role/replenish-dev-consumers/session", False),
    ("arn:aws:iam::123456789012:user/replenish-dev-consumers", False),
    ("arn:aws:iam::123456789012:role/replenish-dev-consumers", False),
    ("arn:aws:sts::123456789012:assumed-role/replenish-dev-consumers-evil/session", False),
    ("arn:aws:sts::123456789012:assumed-role/replenish-dev-consumers/", False),
    ("", False), (None, False),
])
def test_only_a_session_of_the_writer_role_is_the_writer(caller, accepted):
    assert aws_auth.is_session_of_role(caller, ROLE) is accepted


def test_a_role_path_is_not_part_of_its_session_arn():
    assert aws_auth.is_session_of_role(
        "arn:aws:sts::123456789012:assumed-role/writer/s1",
        "arn:aws:iam::123456789012:role/service/replenishment/writer")
    assert not aws_auth.is_session_of_role("arn:aws:sts::123456789012:assumed-role/writer/s1", "")
