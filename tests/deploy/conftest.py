"""Shared helpers of the Zappa deployment tests: the committed settings, each stage resolved the
way Zappa resolves it, and AWS events shaped like the ones Lambda delivers."""
from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.tls_certs import make_authority

REPO = Path(__file__).resolve().parents[2]
SETTINGS_PATH = REPO / "zappa_settings.json"
ZAPPA = Path(sys.executable).parent / "zappa"
DEPLOYED_STAGES = [name for name in json.loads(SETTINGS_PATH.read_text()) if name != "base"]


def load_settings() -> dict:
    return json.loads(SETTINGS_PATH.read_text())


def stage_config(stage: str, settings: dict | None = None) -> dict:
    """A stage with its `extends` chain applied, by Zappa's own ZappaCLI.stage_config."""
    from zappa.cli import ZappaCLI

    cli = ZappaCLI()
    cli.zappa_settings = settings or load_settings()
    cli.api_stage = stage
    return cli.stage_config


def save_python_settings(stage: str, directory: Path) -> Path:
    """`zappa save-python-settings-file <stage>`: the module Zappa writes into the package."""
    target = directory / "zappa_settings.py"
    subprocess.run([str(ZAPPA), "save-python-settings-file", stage, "-o", str(target)],
                   cwd=REPO, check=True, capture_output=True, text=True)
    return target


def api_gateway_event(method: str, path: str, body: dict | None = None,
                      stage: str = "dev", caller_arn: str | None = None) -> dict:
    """An API Gateway REST (v1) proxy event, as Lambda receives it behind Zappa's API;
    `caller_arn` is the caller IAM authorization verified (requestContext.identity.userArn)."""
    headers = {"Host": "abc123defg.execute-api.ap-northeast-2.amazonaws.com",
               "User-Agent": "curl/8.5.0", "Accept": "*/*", "X-Forwarded-Proto": "https",
               "X-Forwarded-For": "203.0.113.10", "X-Forwarded-Port": "443"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}", "httpMethod": method, "path": f"/{stage}{path}",
            "stage": stage, "requestId": str(uuid.uuid4()), "accountId": "123456789012",
            "apiId": "abc123defg", "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0",
                         "userArn": caller_arn},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def sqs_event(queue_arn: str, bodies: list[str]) -> dict:
    """An SQS event source mapping's batch."""
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": f"handle-{i}", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                       "SenderId": "AIDAEXAMPLE",
                       "ApproximateFirstReceiveTimestamp": "1700000000000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": queue_arn.split(":")[3],
    } for i, body in enumerate(bodies)]}


def scheduled_event(rule_name: str) -> dict:
    """What EventBridge sends a Zappa scheduled function (Zappa reads the rule name's suffix)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-01-01T00:00:00Z",
            "region": "ap-northeast-2", "detail": {}, "kwargs": {},
            "resources": [f"arn:aws:events:ap-northeast-2:123456789012:rule/{rule_name}"]}


class FakeContext:
    """The bits of Lambda's context object the handlers use."""
    function_name = "stock-replenishment-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    memory_limit_in_mb = 512

    def __init__(self, millis: int = 10_000):
        self._millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self._millis


@pytest.fixture
def settings_dict() -> dict:
    return load_settings()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds or packages something; spread by xdist")


# --- the RDS CA bundle's trust store, stood in for by a local HTTP server -----------------------

@pytest.fixture
def trust_store():
    """A local HTTP server answering every GET with `store.body` (a bundle of two CAs unless a
    test changes it), recording the paths asked for in `store.requests`."""
    store = SimpleNamespace(body=make_authority("CA 1").pem + make_authority("CA 2").pem,
                            requests=[], url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # http.server's name
            store.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(store.body)))
            self.end_headers()
            self.wfile.write(store.body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store.url = f"http://127.0.0.1:{server.server_port}/global/global-bundle.pem"
    yield store
    server.shutdown()
    server.server_close()


@pytest.fixture
def rds_ca_project(tmp_path, monkeypatch, trust_store):
    """deploy.rds_ca (and so deploy.settings) pointed at a project folder of its own and at the
    local trust store, so no test fetches from AWS or writes into the repository."""
    from deploy import rds_ca

    monkeypatch.setattr(rds_ca, "ROOT", tmp_path)
    monkeypatch.setattr(rds_ca, "RDS_CA_URL", trust_store.url)
    return tmp_path
