"""The post-deploy callback turns on ReportBatchItemFailures for every SQS mapping Zappa made,
run the way Zappa runs it (`ZappaCLI.callback("post")` passes the ZappaCLI itself), against moto."""
from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from deploy import callbacks, rds_ca
from tests.tls_certs import make_authority

from .conftest import REPO, SETTINGS_PATH, stage_config

REGION = "ap-northeast-2"
# Zappa loads callbacks with the loader's load_module(); its deprecation is Zappa's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    return buffer.getvalue()


def deployed(stage: str, monkeypatch):
    """A ZappaCLI loaded with the committed settings, its function and queues on moto, and the
    event source mappings made by Zappa's own schedule_events, as `zappa deploy` does."""
    from zappa.cli import ZappaCLI

    monkeypatch.chdir(REPO)  # Zappa imports callbacks relative to the working directory
    cli = ZappaCLI()
    cli.api_stage = stage
    cli.vargs = {"output_path": None}
    cli.load_settings(settings_file=str(SETTINGS_PATH), session=boto3.Session(region_name=REGION))
    config = stage_config(stage)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName=config["role_name"], AssumeRolePolicyDocument="{}")
    sqs = boto3.client("sqs", region_name=REGION)
    for event in config["events"]:
        if "event_source" in event:
            sqs.create_queue(QueueName=event["event_source"]["arn"].rsplit(":", 1)[-1],
                             Attributes={"VisibilityTimeout": "60"})
    function_arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=cli.lambda_name, Runtime=config["runtime"], Role=config["role_arn"],
        Handler="handler.lambda_handler", Code={"ZipFile": _zip()},
        Timeout=config["timeout_seconds"])["FunctionArn"]
    cli.zappa.credentials_arn = config["role_arn"]
    sqs_events = [e for e in config["events"] if "event_source" in e]
    cli.zappa.schedule_events(lambda_arn=function_arn, lambda_name=cli.lambda_name,
                              events=sqs_events)
    return cli


def _mappings(client, function_name: str) -> dict[str, tuple[str, list]]:
    """{queue name: (State, FunctionResponseTypes)} of the function's mappings."""
    arn = client.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    return {m["EventSourceArn"].rsplit(":", 1)[-1]: (m["State"],
                                                     m.get("FunctionResponseTypes") or [])
            for m in client.list_event_source_mappings(FunctionName=arn)
            ["EventSourceMappings"]}


def _caps(client, function_name: str) -> dict[str, int | None]:
    """{queue name: ScalingConfig.MaximumConcurrency} of the function's mappings."""
    arn = client.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    return {m["EventSourceArn"].rsplit(":", 1)[-1]:
            (m.get("ScalingConfig") or {}).get("MaximumConcurrency")
            for m in client.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]}


@mock_aws
@pytest.mark.parametrize("stage", ["consumers_dev", "factory_prod"])
def test_mappings_go_live_only_with_partial_batch_responses(stage, monkeypatch, capsys):
    """Zappa's schedule() (run by deploy *before* its touch, and by update) leaves every mapping
    disabled: a touch that fails, which skips the callback, leaves nothing live that would let
    Lambda delete a failed batch. The callback enables each with ReportBatchItemFailures."""
    cli = deployed(stage, monkeypatch)
    cli.zappa_settings[stage]["signed_touch"] = False  # no API Gateway here (test_signed_touch_*)
    client = boto3.client("lambda", region_name=REGION)
    expected = {e["event_source"]["arn"].rsplit(":", 1)[-1]
                for e in stage_config(stage)["events"] if "event_source" in e}
    assert _mappings(client, cli.lambda_name) == {name: ("Disabled", []) for name in expected}

    cli.callback("post")  # exactly what `zappa deploy` / `zappa update` do at the end

    live = {name: ("Enabled", ["ReportBatchItemFailures"]) for name in expected}
    assert _mappings(client, cli.lambda_name) == live
    # ... and capped as the connection budget says (deploy/capacity.py), in the same update.
    caps = {arn.rsplit(":", 1)[-1]: n
            for arn, n in stage_config(stage)["sqs_maximum_concurrency"].items()}
    assert _caps(client, cli.lambda_name) == caps and set(caps) == expected
    out = capsys.readouterr().out
    assert out.count("ReportBatchItemFailures on, enabled") == len(expected)
    assert ("no factory API URL" in out) is stage.startswith("consumers")
    assert callbacks.enable_partial_batch_responses(cli) == []  # a second run changes nothing

    # `zappa update` runs schedule() again: the mappings pause (messages wait, none is lost) ...
    arn = client.get_function(FunctionName=cli.lambda_name)["Configuration"]["FunctionArn"]
    cli.zappa.schedule_events(lambda_arn=arn, lambda_name=cli.lambda_name,
                              events=[e for e in cli.stage_config["events"] if "event_source" in e])
    assert {state for state, _ in _mappings(client, cli.lambda_name).values()} == {"Disabled"}
    cli.callback("post")  # ... until its callback enables them again
    assert _mappings(client, cli.lambda_name) == live


def test_every_sqs_mapping_is_declared_disabled():
    """The settings side of the rule above: Zappa creates what `enabled` says."""
    for name, stage in json.loads(SETTINGS_PATH.read_text()).items():
        for event in stage.get("events", []):
            if "sqs" in event.get("event_source", {}).get("arn", ""):
                assert event["event_source"]["enabled"] is False, (name, event)


class _Answer:
    def __init__(self, status_code):
        self.status_code = status_code


def test_signed_touch_signs_the_health_check_for_execute_api(monkeypatch):
    monkeypatch.setattr(callbacks.time, "sleep", lambda _: None)
    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s",
                            aws_session_token="token", region_name=REGION)
    url = "https://abc123.execute-api.ap-northeast-2.amazonaws.com/factory_dev"
    zappa = type("Zappa", (), {"boto_session": session,
                               "get_api_url": lambda self, name, stage: url + "/"})()
    cli = type("Cli", (), {"zappa": zappa, "lambda_name": "fn", "api_stage": "factory_dev",
                           "stage_config": {"touch_path": "/health"}})()
    calls = []

    def get(target, headers, timeout):
        calls.append((target, headers))
        return _Answer(403 if len(calls) == 1 else 200)

    assert callbacks.signed_touch(cli, get=get) == 200
    target, headers = calls[-1]
    assert target == url + "/health"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/ap-northeast-2/execute-api/" in (
        headers["Authorization"])
    assert headers["X-Amz-Security-Token"] == "token"
    with pytest.raises(RuntimeError, match="answered 403"):
        callbacks.signed_touch(cli, get=lambda *a, **k: _Answer(403))


@mock_aws
def test_post_callback_fails_the_deploy_when_zappa_could_not_map_a_queue(monkeypatch):
    cli = deployed("consumers_dev", monkeypatch)
    client = boto3.client("lambda", region_name=REGION)
    arn = client.get_function(FunctionName=cli.lambda_name)["Configuration"]["FunctionArn"]
    lost = client.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"][0]
    client.delete_event_source_mapping(UUID=lost["UUID"])
    with pytest.raises(RuntimeError, match="has no event source mapping"):
        callbacks.enable_partial_batch_responses(cli)


def test_callback_waits_for_a_mapping_still_being_created_and_pages_through_mappings():
    """Real Lambda refuses to update a mapping in state Creating; moto never has one. Stubbed."""
    client = boto3.client("lambda", region_name=REGION)
    arn = "arn:aws:sqs:ap-northeast-2:123456789012:replenish-dev-order-queue"
    other = "arn:aws:sqs:ap-northeast-2:123456789012:replenish-dev-order-queue-dlq"
    U1, U2, U3 = (f"00000000-0000-0000-0000-00000000000{i}" for i in (1, 2, 3))
    fn_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:fn"
    with Stubber(client) as stub:
        stub.add_response("get_function", {"Configuration": {"FunctionArn": fn_arn}},
                          {"FunctionName": "fn"})
        stub.add_response("list_event_source_mappings",
                          {"EventSourceMappings": [{"UUID": U1, "EventSourceArn": arn,
                                                    "State": "Creating"}], "NextMarker": "m2"},
                          {"FunctionName": fn_arn})
        stub.add_response("list_event_source_mappings",
                          {"EventSourceMappings": [
                              {"UUID": U2, "EventSourceArn": other, "State": "Enabled",
                               "FunctionResponseTypes": ["ReportBatchItemFailures"]},
                              {"UUID": U3, "EventSourceArn":
                               "arn:aws:kinesis:ap-northeast-2:123456789012:stream/s",
                               "State": "Enabled"}]},
                          {"FunctionName": fn_arn, "Marker": "m2"})
        stub.add_response("get_event_source_mapping", {"UUID": U1, "State": "Creating"},
                          {"UUID": U1})
        stub.add_response("get_event_source_mapping", {"UUID": U1, "State": "Enabled"},
                          {"UUID": U1})
        stub.add_response("update_event_source_mapping", {"UUID": U1, "State": "Updating"},
                          {"UUID": U1, "FunctionResponseTypes": ["ReportBatchItemFailures"],
                           "Enabled": True})
        zappa = type("Zappa", (), {"lambda_client": client})()
        cli = type("Cli", (), {"zappa": zappa, "lambda_name": "fn", "api_stage": "consumers_dev",
                               "stage_config": {"events": [{"function": "f", "event_source":
                                                            {"arn": arn}}]}})()
        sleeps = []
        assert callbacks.enable_partial_batch_responses(cli, sleep=sleeps.append) == [arn]
        stub.assert_no_pending_responses()
    assert sleeps == [1.0, 2.0]


def _package(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _cli(zip_path: Path, stage_config: dict):
    """What the zip callback reads of Zappa's ZappaCLI."""
    return type("Cli", (), {"zip_path": str(zip_path), "stage_config": stage_config})()


def test_zip_callback_refuses_a_package_built_from_the_dev_virtualenv(tmp_path, capsys):
    good = _package(tmp_path / "good.zip", {"handler.py": b"", "flask/app.py": b""})
    bad = _package(tmp_path / "bad.zip", {"handler.py": b"", "pytest/__init__.py": b"",
                                          "moto/core.py": b""})
    callbacks.check_package(_cli(good, {}))
    assert "no dev or test tools" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match=r"\['moto', 'pytest'\]"):
        callbacks.check_package(_cli(bad, {}))


def test_zip_callback_refuses_a_package_without_the_bundle_its_urls_name(tmp_path, capsys):
    stage = {"environment_variables": {
        "SHOP_DATABASE_URL": rds_ca.verified_url("mysql+pymysql://admin@db:3306/shop")}}
    without = _package(tmp_path / "without.zip", {"handler.py": b""})
    with pytest.raises(RuntimeError, match=f"lacks the CA bundle {rds_ca.RDS_CA_BUNDLE}"):
        callbacks.check_package(_cli(without, stage))
    not_pem = _package(tmp_path / "not-pem.zip",
                       {"handler.py": b"", rds_ca.RDS_CA_BUNDLE: b"<html>"})
    with pytest.raises(RuntimeError, match="lacks the CA bundle"):
        callbacks.check_package(_cli(not_pem, stage))
    with_bundle = _package(tmp_path / "with.zip", {"handler.py": b"",
                                                   rds_ca.RDS_CA_BUNDLE: make_authority().pem})
    callbacks.check_package(_cli(with_bundle, stage))
    assert rds_ca.RDS_CA_BUNDLE in capsys.readouterr().out
    callbacks.check_package(_cli(without, {"environment_variables": {
        "SHOP_DATABASE_URL": "sqlite:///shop.db"}}))  # no URL names a bundle: none needed


def test_zip_callback_adds_unchecked_hash_bytecode_for_the_stage_runtime(tmp_path, capsys):
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    archive = _package(tmp_path / "package.zip", {"handler.py": b"x = 1\n",
                                                  "shop/app.py": b"y = 2\n",
                                                  "shop/broken.py": b"def (:\n"})
    callbacks.finish_package(_cli(archive, {"runtime": runtime}))
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        pyc = zipped.read(importlib.util.cache_from_source("shop/app.py"))
    assert importlib.util.cache_from_source("handler.py") in names
    assert importlib.util.cache_from_source("shop/broken.py") not in names
    assert pyc[:4] == importlib.util.MAGIC_NUMBER and pyc[4:8] == b"\x01\0\0\0"
    assert pyc[8:16] == importlib.util.source_hash(b"y = 2\n")
    out = capsys.readouterr().out
    assert "2 modules byte-compiled" in out and "left as source: shop/broken.py" in out
    callbacks.add_bytecode(_cli(archive, {"runtime": runtime}))  # again (an update): no duplicates
    assert "0 modules byte-compiled" in capsys.readouterr().out


def test_zip_callback_refuses_bytecode_of_another_python_than_the_runtime(tmp_path):
    archive = _package(tmp_path / "package.zip", {"handler.py": b"x = 1\n"})
    with pytest.raises(RuntimeError, match=r"stage deploys python3\.9: bytecode compiled here"):
        callbacks.finish_package(_cli(archive, {"runtime": "python3.9"}))
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.namelist() == ["handler.py"]
