"""zappa_settings.json: generated from the topology and Terraform's outputs, every stage complete,
every key one Zappa reads, every event source bound to a real `(event, context)` function."""
from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import boto3
import pytest
from sqlalchemy.engine import make_url

from deploy import callbacks
from deploy import settings as gen
from inventory_core import config
from inventory_core.topology import TOPOLOGY, physical

from .conftest import DEPLOYED_STAGES, REPO, SETTINGS_PATH, load_settings, stage_config

ZAPPA_DIR = Path(importlib.import_module("zappa").__file__).parent
EVENT_KEYS = {"function", "event_source", "expression", "expressions", "name", "description",
              "kwargs", "enabled"}
SQS_SOURCE_KEYS = {"arn", "batch_size", "batch_window", "enabled"}
SQS_DEFAULT_VISIBILITY = 30  # Terraform leaves the DLQs' visibility timeout at SQS's default
LAMBDA_ENV_LIMIT_BYTES = 4096


def zappa_setting_names() -> set[str]:
    """Every stage key Zappa 0.63 reads, found in its own source."""
    source = (ZAPPA_DIR / "cli.py").read_text() + (ZAPPA_DIR / "core.py").read_text()
    names = set(re.findall(r'stage_config\.get\(\s*"([a-z_0-9]+)"', source))
    names |= set(re.findall(r'stage_config\["([a-z_0-9]+)"\]', source))
    names |= set(re.findall(r'"([a-z_0-9]+)" in self\.stage_config', source))
    from zappa.cli import CUSTOM_SETTINGS
    return names | set(CUSTOM_SETTINGS) | {"extends", "s3_bucket", "project_name"}


def sqs_events(stage: dict) -> list[dict]:
    return [e for e in stage.get("events", []) if "event_source" in e]


def queue_for_arn(arn: str):
    """(queue, is_dead_letter) of the topology queue an ARN names, whatever the prefix."""
    name = arn.rsplit(":", 1)[-1]
    for queue in TOPOLOGY.queues:
        if name.endswith(f"-{queue.dlq_name}"):
            return queue, True
        if name.endswith(f"-{queue.name}"):
            return queue, False
    raise AssertionError(f"{arn} names no topology queue")


# --- generated, not hand-written ---------------------------------------------------------------

def test_committed_settings_are_what_the_generator_writes():
    expected = gen.render(gen.example_settings())
    assert SETTINGS_PATH.read_text() == expected, (
        "zappa_settings.json drifted from the topology or deploy/example-outputs: "
        "regenerate it with `.venv/bin/python -m deploy.settings --example`")


def test_example_outputs_are_terraform_outputs_with_topology_names():
    outputs_tf = REPO / "terraform" / "outputs.tf"
    declared = set(re.findall(r'^output\s+"([a-z_0-9]+)"', outputs_tf.read_text(), re.M)) \
        if outputs_tf.exists() else None
    for env, path in gen.EXAMPLE_OUTPUTS.items():
        raw = json.loads(path.read_text())
        assert all(set(item) == {"sensitive", "type", "value"} for item in raw.values()), \
            "the example must be shaped like `terraform output -json`"
        outputs = gen.unwrap(raw)
        assert outputs["environment"] == env and outputs["account_id"] == "123456789012"
        prefix = outputs["name_prefix"]
        assert {k: v.rsplit(":", 1)[-1] for k, v in outputs["queue_arns"].items()} == \
            {q.key: physical(prefix, q.name) for q in TOPOLOGY.queues}
        assert {k: v.rsplit(":", 1)[-1] for k, v in outputs["dlq_arns"].items()} == \
            {q.key: physical(prefix, q.dlq_name) for q in TOPOLOGY.queues}
        if declared is not None:
            invented = set(outputs) - declared
            assert not invented, f"the example invents outputs: {invented}"


def test_terraform_declares_every_output_the_generator_needs():
    outputs_tf = REPO / "terraform" / "outputs.tf"
    if not outputs_tf.exists():
        pytest.skip("terraform/outputs.tf not written yet")
    declared = set(re.findall(r'^output\s+"([a-z_0-9]+)"', outputs_tf.read_text(), re.M))
    needed = {"account_id", "region", "name_prefix", "environment", "private_subnet_ids",
              "lambda_security_group_id", "role_names", "role_arns", "queue_arns", "dlq_arns",
              "zappa_environment"}
    assert needed <= declared, f"terraform/outputs.tf lacks {sorted(needed - declared)}"


def test_every_queue_in_the_settings_is_the_topologys_and_bound_once_per_environment():
    settings = load_settings()
    for env in gen.ENVIRONMENTS:
        bound: dict[tuple[str, bool], str] = {}
        prefix = None
        for service in gen.SERVICES:
            stage = settings[gen.stage_name(service, env)]
            prefix = stage["environment_variables"][config.NAME_PREFIX]
            for event in sqs_events(stage):
                arn = event["event_source"]["arn"]
                queue, dead = queue_for_arn(arn)
                expected_name = physical(prefix, queue.dlq_name if dead else queue.name)
                assert arn.rsplit(":", 1)[-1] == expected_name
                assert arn.split(":")[3] == stage["aws_region"]
                consumer = TOPOLOGY.dead_letter_consumer if dead else queue.consumer
                assert event["function"] == consumer
                assert (queue.key, dead) not in bound, f"{arn} bound twice"
                bound[(queue.key, dead)] = service
        assert set(bound) == {(q.key, dead) for q in TOPOLOGY.queues for dead in (False, True)}
        assert bound[("production", False)] == "factory"
        assert {bound[(q.key, True)] for q in TOPOLOGY.queues} == {"consumers"}


# --- every stage resolves and is fit to deploy --------------------------------------------------

@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_stage_resolves_through_its_extends_chain(stage):
    assert DEPLOYED_STAGES == ["shop_dev", "factory_dev", "consumers_dev",
                               "shop_prod", "factory_prod", "consumers_prod"]
    resolved = stage_config(stage)
    assert load_settings()[stage]["extends"] == "base"
    assert resolved["debug"] is False and resolved["log_level"] == "INFO"
    assert resolved["runtime"] == gen.RUNTIME == "python3.11"  # the Lambda runtime we package for
    assert resolved["manage_roles"] is False
    assert resolved["role_name"] and resolved["role_arn"].endswith(f":role/{resolved['role_name']}")
    assert resolved["vpc_config"]["SubnetIds"] and resolved["vpc_config"]["SecurityGroupIds"]
    assert resolved["callbacks"] == {"zip": "deploy.callbacks.finish_package",
                                     "post": "deploy.callbacks.post_deploy"}
    assert resolved["project_name"] and resolved["s3_bucket"] and resolved["aws_region"]
    for tool in ("tests", "bench", "terraform", "docs", "pytest", "_pytest", "moto", ".venv-*",
                 "*.pyc"):
        assert tool in resolved["exclude"]
    # Keys neither Zappa nor our post-deploy callback reads would be silently ignored.
    unknown = set(resolved) - zappa_setting_names() - {callbacks.MAXIMUM_CONCURRENCY_KEY}
    assert not unknown, f"{stage}: keys Zappa would silently ignore: {sorted(unknown)}"
    service = stage.split("_")[0]
    if service in gen.APP_FUNCTIONS:
        assert resolved["app_function"] == gen.APP_FUNCTIONS[service]
        sweeps = [e for e in resolved["events"] if "expression" in e]
        assert sweeps == [{"function": gen.SWEEPS[service], "expression": "rate(1 minute)",
                           "description": f"Outbox sweep of the {service} database"}]
        assert resolved["keep_warm"] is stage.endswith("_prod")
    else:
        assert resolved["apigateway_enabled"] is False and "app_function" not in resolved
        assert resolved["keep_warm"] is False
        # The scheduled functions (inventory_core.topology.SCHEDULES): the lifecycle check every
        # minute, the learned reorder rules hourly (docs/demand.md)
        assert [e for e in resolved["events"] if "expression" in e] == [{
            "function": "consumers.lifecycle.handler", "expression": "rate(1 minute)",
            "description": "Replenishment lifecycle check: deadlines, reconciliation, "
                           "escalation"}, {
            "function": "consumers.learn_rules.handler", "expression": "rate(1 hour)",
            "description": "Learned reorder rules from demand and lead times"}]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_environment_holds_config_names_and_no_secret(stage):
    env = stage_config(stage)["environment_variables"]
    assert set(env) <= set(config.ENV_VARS)
    assert not set(env) & (gen.RESERVED_ENV | {config.ADMIN_TOKEN, config.AWS_ENDPOINT_URL})
    assert all(isinstance(v, str) for v in env.values())
    for name, value in env.items():
        if name.endswith("_DATABASE_URL"):
            assert make_url(value).password is None, "passwords come from Secrets Manager"
            assert env[name.replace("_URL", "_SECRET_ARN")].startswith("arn:aws:secretsmanager:")
    assert len(json.dumps(env).encode()) < LAMBDA_ENV_LIMIT_BYTES
    needs = {"shop": {"SHOP_DATABASE_URL"}, "factory": {"FACTORY_DATABASE_URL"},
             "consumers": {"SHOP_DATABASE_URL", "FACTORY_API_URL", "SES_SENDER"}}
    assert needs[stage.split("_")[0]] <= set(env)
    assert not re.search(r"(?i)password|secret_key|BEGIN [A-Z ]*PRIVATE KEY",
                         SETTINGS_PATH.read_text())


# --- event sources: keys Zappa supports, functions that exist, timeouts AWS accepts ------------

def test_zappa_reads_exactly_these_sqs_event_source_keys():
    from zappa.utilities import SqsEventSource

    config_ = {"arn": "arn:aws:sqs:ap-northeast-2:123456789012:q", "batch_size": 7,
               "batch_window": 3, "enabled": False}
    source = SqsEventSource(boto3.Session(region_name="ap-northeast-2"), config_)
    assert (source.arn, source.batch_size, source.batch_window, source.enabled) == \
        (config_["arn"], 7, 3, False)
    assert getattr(source, "_supports_batch_window", False)


def _function(dotted: str):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _all_events() -> list[tuple[str, dict]]:
    return [(stage, event) for stage in DEPLOYED_STAGES for event in stage_config(stage)["events"]]


def test_event_sources_use_only_supported_keys_and_topology_batching():
    for stage, event in _all_events():
        assert set(event) <= EVENT_KEYS, (stage, event)
        if "event_source" not in event:
            continue
        source = event["event_source"]
        assert set(source) == SQS_SOURCE_KEYS, (stage, source)
        # disabled until the post-deploy callback enables it (deploy/callbacks.py)
        assert source["arn"].split(":")[2] == "sqs" and source["enabled"] is False
        queue, dead = queue_for_arn(source["arn"])
        expected = ((TOPOLOGY.dead_letter_batch_size, TOPOLOGY.dead_letter_batch_window) if dead
                    else (queue.batch_size, queue.batch_window))
        assert (source["batch_size"], source["batch_window"]) == expected, (stage, source)
        # AWS: SQS batches of more than 10 need a batching window; at most 10,000 and 300 s.
        assert 1 <= source["batch_size"] <= 10_000 and 0 <= source["batch_window"] <= 300
        assert source["batch_size"] <= 10 or source["batch_window"] >= 1


@pytest.mark.parametrize("dotted", sorted({e["function"] for _, e in _all_events()}))
def test_every_event_function_imports_with_the_event_context_signature(dotted):
    try:
        function = _function(dotted)
    except ModuleNotFoundError as exc:
        pytest.fail(f"{dotted} does not import yet: {exc}")
    inspect.signature(function).bind({"Records": []}, object())  # raises TypeError otherwise


def test_every_scheduled_rule_name_is_valid_for_zappa():
    from zappa.core import Zappa

    zappa = Zappa(boto_session=boto3.Session(region_name="ap-northeast-2"), load_credentials=False)
    for stage, event in _all_events():
        if "expression" in event:
            lambda_name = f"{stage_config(stage)['project_name']}-{stage}".replace("_", "-")
            rule = zappa.get_scheduled_event_name(event, event["function"], lambda_name)
            assert len(rule) <= 64 and rule.split("-")[-1] == event["function"]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_timeout_fits_every_queue_visibility_timeout(stage):
    resolved = stage_config(stage)
    timeout = resolved["timeout_seconds"]
    assert 1 <= timeout <= 30  # API Gateway's 29 s; consumers far less
    for event in sqs_events(resolved):
        queue, dead = queue_for_arn(event["event_source"]["arn"])
        if dead:
            # AWS refuses a mapping whose queue's visibility timeout is below the function's.
            assert timeout <= SQS_DEFAULT_VISIBILITY
        else:
            assert queue.visibility_timeout >= gen.VISIBILITY_TO_TIMEOUT * timeout, (
                f"{stage}: {queue.name} visibility {queue.visibility_timeout}s < 6 x {timeout}s")


# --- the command ----------------------------------------------------------------------------------

def _example(env: str = "dev") -> dict:
    return gen.read_outputs(outputs_file=gen.EXAMPLE_OUTPUTS[env])


def test_command_reads_terraform_output_json_and_keeps_the_other_environment(tmp_path,
                                                                            rds_ca_project):
    raw = gen.EXAMPLE_OUTPUTS["dev"].read_text()
    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        return type("Done", (), {"stdout": raw})()

    outputs = gen.read_outputs(terraform_dir="terraform", run=fake_run)
    assert calls == [["terraform", "-chdir=terraform", "output", "-json"]]
    assert outputs == _example("dev")

    target = tmp_path / "zappa_settings.json"
    target.write_text(SETTINGS_PATH.read_text())
    moved = json.loads(raw)
    moved["private_subnet_ids"]["value"] = ["subnet-0new"]
    (tmp_path / "out.json").write_text(json.dumps(moved))
    assert gen.main(["--env", "dev", "--outputs", str(tmp_path / "out.json"), "--settings",
                     str(target), "--factory-api-url",
                     "https://x1.execute-api.ap-northeast-2.amazonaws.com/factory_dev/"]) == 0
    written = json.loads(target.read_text())
    assert written["shop_dev"]["vpc_config"]["SubnetIds"] == ["subnet-0new"]
    assert written["consumers_dev"]["environment_variables"]["FACTORY_API_URL"] == \
        "https://x1.execute-api.ap-northeast-2.amazonaws.com/factory_dev/"
    assert written["shop_prod"] == load_settings()["shop_prod"]
    assert gen.main(["--example", "--settings", str(target), "--check"]) == 1
    assert gen.main(["--example", "--settings", str(SETTINGS_PATH), "--check"]) == 0


@pytest.mark.parametrize("breakage, message", [
    (lambda o: o["queue_arns"].update(order="arn:aws:sqs:ap-northeast-2:123456789012:other-queue"),
     "does not name the topology's queue"),
    (lambda o: o.pop("dlq_arns"), "'dlq_arns.order' is missing"),
    (lambda o: o["zappa_environment"]["shop"].update(SHOP_DB="x"), "does not read"),
    (lambda o: o.update(environment="prod"), "not 'dev'"),
    (lambda o: o["sqs_event_sources"]["queues"]["order"].update(service="factory"), "gives queue"),
])
def test_outputs_that_disagree_with_the_topology_are_refused(breakage, message):
    outputs = _example("dev")
    breakage(outputs)
    with pytest.raises(gen.OutputsError, match=re.escape(message)):
        gen.env_stages("dev", outputs)


def test_secrets_and_local_only_names_never_reach_a_stage():
    outputs = _example("dev")
    outputs["zappa_environment"]["shop"].update(ADMIN_TOKEN="s3cr3t", AWS_REGION="us-east-1",
                                                AWS_ENDPOINT_URL="http://127.0.0.1:5002")
    env = gen.env_stages("dev", outputs)["shop_dev"]["environment_variables"]
    assert not {"ADMIN_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL"} & set(env)


def test_factory_api_url_auto_asks_zappa_for_the_factory_stages_api(monkeypatch, tmp_path,
                                                                    rds_ca_project):
    import zappa.core

    asked = []

    class FakeZappa:
        def __init__(self, aws_region=None, load_credentials=True, **_):
            self.region = aws_region

        def get_api_url(self, lambda_name, stage_name):
            asked.append((self.region, lambda_name, stage_name))
            return f"https://abc.execute-api.{self.region}.amazonaws.com/{stage_name}/"

    monkeypatch.setattr(zappa.core, "Zappa", FakeZappa)
    target = tmp_path / "zappa_settings.json"
    assert gen.main(["--env", "prod", "--outputs", str(gen.EXAMPLE_OUTPUTS["prod"]),
                     "--factory-api-url", "auto", "--settings", str(target)]) == 0
    assert asked == [("ap-northeast-2", "stock-replenishment-factory-prod", "factory_prod")]
    written = json.loads(target.read_text())
    assert written["consumers_prod"]["environment_variables"]["FACTORY_API_URL"] == \
        "https://abc.execute-api.ap-northeast-2.amazonaws.com/factory_prod"
    assert set(written) == {"base", "shop_prod", "factory_prod", "consumers_prod"}


def test_the_command_writes_all_or_nothing(tmp_path, rds_ca_project, monkeypatch):
    """A missing output, the factory writer missing, or no CA bundle: the file stays as it was."""
    target = tmp_path / "zappa_settings.json"
    before = SETTINGS_PATH.read_text()
    target.write_text(before)
    broken = json.loads(gen.EXAMPLE_OUTPUTS["dev"].read_text())
    broken.pop("dlq_arns")
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(gen.OutputsError):
        gen.main(["--env", "dev", "--outputs", str(tmp_path / "broken.json"), "--settings",
                  str(target)])
    assert target.read_text() == before
    no_writer = json.loads(gen.EXAMPLE_OUTPUTS["dev"].read_text())
    no_writer["zappa_environment"]["value"]["factory"].pop("FACTORY_WRITER_ROLE_ARN")
    (tmp_path / "no-writer.json").write_text(json.dumps(no_writer))
    with pytest.raises(gen.OutputsError, match="FACTORY_WRITER_ROLE_ARN"):
        gen.main(["--env", "dev", "--outputs", str(tmp_path / "no-writer.json"), "--settings",
                  str(target)])
    assert target.read_text() == before

    def no_bundle():
        raise OSError("no route to the trust store")

    monkeypatch.setattr(gen.rds_ca, "ensure", no_bundle)
    moved = json.loads(gen.EXAMPLE_OUTPUTS["dev"].read_text())
    moved["private_subnet_ids"]["value"] = ["subnet-0new"]
    (tmp_path / "out.json").write_text(json.dumps(moved))
    assert gen.main(["--env", "dev", "--outputs", str(tmp_path / "out.json"), "--settings",
                     str(target)]) == 1
    assert target.read_text() == before
    assert not list(tmp_path.glob(".zappa_settings.json.tmp"))
