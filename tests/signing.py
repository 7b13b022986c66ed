"""Signed calls to the factory from tests, the way the order consumer makes them
(inventory_core.adapters.aws_auth.sign, botocore's SigV4Auth underneath).

tests/conftest.py gives every test the AWS credentials testing/testing (boto3's default chain);
factories in tests accept that key pair as their writer (WRITER below), so the real consumers
sign and are let in exactly as in the local stack."""
from __future__ import annotations

import json as _json
from typing import Any

from botocore.credentials import ReadOnlyCredentials

from inventory_core.adapters import aws_auth

REGION = "ap-northeast-2"
WRITER = {"factory_writer_access_key_id": "testing", "factory_writer_secret_access_key": "testing"}
WRITER_CREDENTIALS = ReadOnlyCredentials("testing", "testing", None)


def signed_headers(method: str, url: str, body: bytes = b"",
                   credentials: ReadOnlyCredentials = WRITER_CREDENTIALS, region: str = REGION,
                   headers: dict | None = None) -> dict[str, str]:
    base = {"Content-Type": "application/json"} if body else {}
    return aws_auth.sign(method, url, {**base, **(headers or {})}, body, region, credentials)


class SignedClient:
    """A Flask test client whose writes are signed like the order consumer's."""

    def __init__(self, client, credentials: ReadOnlyCredentials = WRITER_CREDENTIALS):
        self.client, self.credentials = client, credentials

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)  # reads need no signature

    def post(self, path: str, json: Any = None, data: str | bytes | None = None,
             content_type: str = "application/json", headers: dict | None = None):
        body = data if data is not None else _json.dumps(json)
        body = body.encode() if isinstance(body, str) else body
        signed = signed_headers("POST", f"http://localhost{path}", body, self.credentials,
                                headers={"Content-Type": content_type, **(headers or {})})
        return self.client.post(path, data=body, headers=signed)


class SigningMiddleware:
    """A WSGI app that signs every request as the factory writer before `app` sees it: for
    fuzzers that build their own requests (schemathesis), so they reach the factory's views."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        import io

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {"Content-Type": environ["CONTENT_TYPE"]} if environ.get("CONTENT_TYPE") else {}
        raw_uri = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        signed = aws_auth.sign(environ["REQUEST_METHOD"], f"http://{environ['HTTP_HOST']}{raw_uri}",
                               headers, body, REGION, WRITER_CREDENTIALS)
        for name, value in signed.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return self.app(environ, start_response)
