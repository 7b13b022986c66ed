"""Offline checks of terraform/: formatting, and what checkov does not check (python-hcl2)."""
from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess

import pytest

from inventory_core import config
from tests.infra.conftest import TERRAFORM_DIR, as_list, blocks, single_label_blocks, tf_files

WORLD = {"0.0.0.0/0", "::/0"}
MYSQL_PORT = 3306


def test_terraform_fmt_check():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed: `terraform fmt -check` not run (install it to "
                    "run this check)")
    result = subprocess.run([terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}"


def test_every_file_parses_and_the_layout_is_by_concern(terraform_hcl):
    names = {path.name for path in tf_files()}
    assert {"versions.tf", "variables.tf", "network.tf", "databases.tf", "messaging.tf",
            "alarms.tf", "ses.tf", "iam.tf", "outputs.tf"} <= names
    assert set(terraform_hcl) == names


def test_aws_provider_is_pinned_to_v5(terraform_hcl):
    required = terraform_hcl["versions.tf"]["terraform"][0]["required_providers"][0]["aws"]
    assert required["source"] == "hashicorp/aws"
    assert required["version"] == "~> 5.0"


# --- security groups ---------------------------------------------------------------------------

def _covers(from_port, to_port, protocol, port: int) -> bool:
    if str(protocol) in {"-1", "all"}:
        return True
    try:
        return int(from_port) <= port <= int(to_port)
    except (TypeError, ValueError):  # an expression: assume the worst
        return True


def _is_world(cidr: str) -> bool:
    if cidr in WORLD:
        return True
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def ingress_rules(parsed):
    """(where, from_port, to_port, protocol, cidrs) of every ingress rule, in all three
    spellings."""
    for file_name, _, name, body in blocks(parsed, "resource", "aws_security_group"):
        for rule in as_list(body.get("ingress")):
            yield (f"{file_name}:aws_security_group.{name}", rule.get("from_port"),
                   rule.get("to_port"), rule.get("protocol"),
                   as_list(rule.get("cidr_blocks")) + as_list(rule.get("ipv6_cidr_blocks")))
    for file_name, _, name, body in blocks(parsed, "resource", "aws_security_group_rule"):
        if body.get("type") == "ingress":
            yield (f"{file_name}:aws_security_group_rule.{name}", body.get("from_port"),
                   body.get("to_port"), body.get("protocol"),
                   as_list(body.get("cidr_blocks")) + as_list(body.get("ipv6_cidr_blocks")))
    for file_name, _, name, body in blocks(parsed, "resource",
                                           "aws_vpc_security_group_ingress_rule"):
        yield (f"{file_name}:aws_vpc_security_group_ingress_rule.{name}", body.get("from_port"),
               body.get("to_port"), body.get("ip_protocol"),
               as_list(body.get("cidr_ipv4")) + as_list(body.get("cidr_ipv6")))


def test_mysql_is_never_open_to_the_world(terraform_hcl):
    rules = list(ingress_rules(terraform_hcl))
    assert rules, "no ingress rule found: the parser no longer sees them"
    offenders = [where for where, start, end, protocol, cidrs in rules
                 if _covers(start, end, protocol, MYSQL_PORT) and any(_is_world(c) for c in cidrs)]
    assert offenders == []


def test_no_ingress_from_the_world_at_all(terraform_hcl):
    offenders = [where for where, *_, cidrs in ingress_rules(terraform_hcl)
                 if any(_is_world(c) for c in cidrs)]
    assert offenders == []


def test_database_ingress_comes_only_from_the_lambda_group(terraform_hcl):
    db_rules = [body for _, _, _, body
                in blocks(terraform_hcl, "resource", "aws_vpc_security_group_ingress_rule")
                if body["security_group_id"] == "${aws_security_group.db.id}"]
    assert len(db_rules) == 1
    assert db_rules[0]["from_port"] == db_rules[0]["to_port"] == MYSQL_PORT
    assert db_rules[0]["referenced_security_group_id"] == "${aws_security_group.lambda.id}"
    assert "cidr_ipv4" not in db_rules[0] and "cidr_ipv6" not in db_rules[0]
    sg_rules = [body for _, _, _, body
                in blocks(terraform_hcl, "resource", "aws_security_group_rule")]
    assert sg_rules == [], "rules are aws_vpc_security_group_*_rule resources only"
    for _, _, _, body in blocks(terraform_hcl, "resource", "aws_security_group"):
        assert "ingress" not in body and "egress" not in body, (
            "inline rules would fight the rule resources")


# --- IAM -----------------------------------------------------------------------------------------

POLICY_ATTRIBUTES = ("policy", "assume_role_policy")
DOC_REF = re.compile(r"^\$\{data\.aws_iam_policy_document\.(\w+)(\[[^\]]+\])?\.json\}$")


def policy_documents(parsed):
    return {name: body for _, _, name, body in blocks(parsed, "data", "aws_iam_policy_document")}


def key_policy_documents(parsed) -> set[str]:
    names = set()
    for _, _, _, body in blocks(parsed, "resource", "aws_kms_key"):
        match = DOC_REF.match(body.get("policy", ""))
        assert match, "a KMS key policy is an aws_iam_policy_document"
        names.add(match.group(1))
    return names


def test_every_policy_is_a_parseable_policy_document(terraform_hcl):
    """No jsonencode()/heredoc policies: every policy is an aws_iam_policy_document these tests
    can read."""
    documents = policy_documents(terraform_hcl)
    seen = 0
    for file_name, rtype, name, body in blocks(terraform_hcl, "resource"):
        for attribute in POLICY_ATTRIBUTES:
            if attribute in body:
                seen += 1
                match = DOC_REF.match(body[attribute])
                assert match, f"{file_name}: {rtype}.{name}.{attribute} = {body[attribute]!r}"
                assert match.group(1) in documents
    assert seen >= 8
    for path in tf_files():
        text = path.read_text()
        assert not re.search(r'jsonencode\(\s*\{[^}]*\bStatement\b', text, re.S), (
            f"{path.name}: jsonencode policy")
        assert '"Statement"' not in text and "Statement =" not in text, (
            f"{path.name}: hand-written policy JSON")


def statements(document: dict) -> list[dict]:
    return as_list(document.get("statement"))


def test_no_wildcard_actions_or_resources(terraform_hcl):
    key_policies = key_policy_documents(terraform_hcl)
    problems = []
    for name, document in policy_documents(terraform_hcl).items():
        for statement in statements(document):
            sid = statement.get("sid", "?")
            for unsafe in ("not_actions", "not_resources", "not_principals"):
                if unsafe in statement:
                    problems.append(f"{name}/{sid}: {unsafe}")
            actions = statement.get("actions")
            if isinstance(actions, list):
                problems += [f"{name}/{sid}: action {a}" for a in actions if "*" in a]
            elif actions is not None and not re.fullmatch(r"\$\{local\.\w+\}", actions):
                problems.append(f"{name}/{sid}: actions {actions!r} is not a list or a local")
            resources = statement.get("resources")
            if isinstance(resources, list):
                for resource in resources:
                    # A key policy's "*" is the key itself: AWS requires that spelling there.
                    if resource.strip() == "*" and name not in key_policies:
                        problems.append(f"{name}/{sid}: resource *")
                    if re.fullmatch(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*", resource):
                        problems.append(f"{name}/{sid}: resource {resource}")
            elif resources is not None and "*" in resources:
                problems.append(f"{name}/{sid}: resources {resources!r}")
    assert problems == []
    # the locals spliced in as actions are wildcard-free too
    iam_locals = {k: v for entry in terraform_hcl["iam.tf"]["locals"] for k, v in entry.items()}
    for local_name in ("consume_actions", "send_actions"):
        assert all("*" not in a for a in iam_locals[local_name]), local_name


def test_every_statement_allows_and_names_actions(terraform_hcl):
    for name, document in policy_documents(terraform_hcl).items():
        for statement in statements(document):
            assert statement.get("effect", "Allow") == "Allow"
            assert "actions" in statement, name


def test_each_service_role_has_logs_and_vpc_access(terraform_hcl):
    iam_locals = {k: v for entry in terraform_hcl["iam.tf"]["locals"] for k, v in entry.items()}
    managed = iam_locals["managed_policies"]
    assert managed["basic"].endswith("policy/service-role/AWSLambdaBasicExecutionRole")
    assert managed["vpc"].endswith("policy/service-role/AWSLambdaVPCAccessExecutionRole")
    attachments = {name: body for _, _, name, body
                   in blocks(terraform_hcl, "resource", "aws_iam_role_policy_attachment")}
    assert ("setproduct(keys(local.services), keys(local.managed_policies))"
            in iam_locals["service_managed_policies"])
    assert attachments["service_managed"]["for_each"] == "${local.service_managed_policies}"
    roles = {name: body for _, _, name, body in blocks(terraform_hcl, "resource", "aws_iam_role")}
    assert roles["service"]["for_each"] == "${local.services}"
    # who may assume each role: tests/infra/test_api_gateway_invoke.py
    assert roles["service"]["assume_role_policy"] == (
        "${data.aws_iam_policy_document.service_assume[each.key].json}")
    inline = {name: body for _, _, name, body
              in blocks(terraform_hcl, "resource", "aws_iam_role_policy")}
    for service in ("shop", "factory", "consumers"):
        assert inline[service]["policy"] == f"${{data.aws_iam_policy_document.{service}.json}}"
        assert inline[service]["role"] == f'${{aws_iam_role.service["{service}"].id}}'


def _resources_by_sid(document: dict) -> dict[str, str]:
    return {s["sid"]: " ".join(as_list(s["resources"])) for s in statements(document)}


def test_least_privilege_per_service(terraform_hcl):
    documents = policy_documents(terraform_hcl)
    shop, factory, consumers = (_resources_by_sid(documents[n])
                                for n in ("shop", "factory", "consumers"))
    # secrets: each service reads only its own database's secret
    assert "local.services.shop.database" in shop["ReadOwnDatabaseSecret"]
    assert "local.services.factory.database" in factory["ReadOwnDatabaseSecret"]
    assert "local.services.consumers.database" in consumers["ReadOwnDatabaseSecret"]
    # topics and queues: only the ones in its entry of local.services
    assert "local.services.shop.publishes" in shop["PublishOwnTopics"]
    assert set(shop) == {"ApiGatewayInvokesOwnFunction", "PublishOwnTopics",
                         "RedriveToSourceQueues", "ReadOwnDatabaseSecret",
                         "UseKeyForTopicsAndSecret"}
    assert "local.services.shop.sends_to" in shop["RedriveToSourceQueues"]
    assert "local.services.factory.consumes" in factory["ConsumeOwnQueues"]
    assert "local.services.factory.sends_to" in factory["SendToOwnQueues"]
    assert "aws_sqs_queue.dlq" in consumers["ConsumeEveryDeadLetterQueue"]
    # a consumer dead-letters its permanent failures straight to its own queues' DLQs only
    assert "local.services.factory.consumes" in factory["DeadLetterPermanentFailures"]
    assert "local.services.consumers.consumes" in consumers["DeadLetterPermanentFailures"]
    assert "RedriveToSourceQueues" not in consumers
    assert "local.ses_identity_arns" in consumers["SendMailAsSender"]
    assert "local.factory_api_execute_arn" in consumers["CallFactoryApi"]
    assert "execute-api" not in " ".join(shop.values()) + " ".join(factory.values())
    assert "ses" not in " ".join(shop) + " ".join(factory)
    for document in ("shop", "factory", "consumers"):
        (kms,) = [s for s in statements(documents[document])
                  if s["sid"] == "UseKeyForTopicsAndSecret"]
        assert kms["resources"] == ["${aws_kms_key.main.arn}"]
        assert kms["condition"][0]["variable"] == "kms:ViaService"


def test_queue_policies_only_let_their_topics_send(terraform_hcl):
    document = policy_documents(terraform_hcl)["queue_from_topic"]
    (statement,) = statements(document)
    assert statement["principals"][0] == {"type": "Service", "identifiers": ["sns.amazonaws.com"]}
    assert statement["actions"] == ["sqs:SendMessage"]
    (condition,) = statement["condition"]
    assert condition["test"] == "ArnEquals" and condition["variable"] == "aws:SourceArn"
    assert "aws_sns_topic.event[topic].arn" in condition["values"]


# --- databases -----------------------------------------------------------------------------------

def test_no_literal_passwords(terraform_hcl):
    for file_name, _, name, body in blocks(terraform_hcl, "resource", "aws_db_instance"):
        assert "password" not in body, f"{file_name}: aws_db_instance.{name} sets a password"
        assert body["manage_master_user_password"] is True
    for path in tf_files():
        assert not re.search(r"(?<![\w])password\s*=", path.read_text()), (
            f"{path.name} sets a password")
    for name in single_label_blocks(terraform_hcl, "variable"):
        assert "password" not in name and "secret" not in name, f"variable {name}"


def test_databases_are_private_encrypted_mysql8_and_safe_in_prod(terraform_hcl):
    (db,) = [body for _, _, _, body in blocks(terraform_hcl, "resource", "aws_db_instance")]
    assert db["for_each"] == "${local.databases}"
    assert db["engine"] == "mysql"
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["deletion_protection"] == "${local.is_prod}"
    assert db["multi_az"] == "${local.is_prod}"
    match = re.fullmatch(r"\$\{local\.is_prod \? var\.db_backup_retention_days : (\d+)\}",
                         db["backup_retention_period"])
    assert match and int(match.group(1)) > 0
    assert db["db_subnet_group_name"] == "${aws_db_subnet_group.main.name}"
    assert db["vpc_security_group_ids"] == ["${aws_security_group.db.id}"]
    variables = single_label_blocks(terraform_hcl, "variable")
    assert variables["db_engine_version"]["default"] == "8.0"
    retention = variables["db_backup_retention_days"]["validation"][0]["condition"]
    assert "var.db_backup_retention_days >= 1" in retention
    locals_ = {k: v for entry in terraform_hcl["databases.tf"]["locals"] for k, v in entry.items()}
    assert set(locals_["databases"]) == {"shop", "factory"}
    # TLS required by default; the functions' URLs name the packaged CA bundle (tests/deploy).
    assert variables["db_require_tls"]["default"] is True
    assert db["parameter_group_name"] == "${aws_db_parameter_group.mysql.name}"
    (group,) = [body for _, _, _, body
                in blocks(terraform_hcl, "resource", "aws_db_parameter_group")]
    assert {"name": "require_secure_transport",
            "value": '${var.db_require_tls ? "1" : "0"}'} in group["parameter"]


def test_environment_is_validated(terraform_hcl):
    variables = single_label_blocks(terraform_hcl, "variable")
    environment = variables["environment"]["validation"][0]["condition"]
    assert 'contains(["dev", "prod"], var.environment)' in environment
    for name in ("region", "name_prefix", "ses_sender_email", "alarm_email", "db_instance_class"):
        assert "validation" in variables[name], name


# --- messaging -----------------------------------------------------------------------------------

def test_every_source_queue_has_a_dead_letter_queue(terraform_hcl):
    queues = {name: body for _, _, name, body in blocks(terraform_hcl, "resource", "aws_sqs_queue")}
    assert set(queues) == {"queue", "dlq"}
    for name, body in queues.items():
        assert body.get("sqs_managed_sse_enabled") is True or "kms_master_key_id" in body, name
        if name != "dlq":
            policy = body["redrive_policy"]
            assert "deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn" in policy
            assert "maxReceiveCount = each.value.max_receive_count" in policy
            assert body["visibility_timeout_seconds"] == "${each.value.visibility_timeout}"
            assert body["message_retention_seconds"] == "${local.queue_retention_seconds}"
    assert "redrive_policy" not in queues["dlq"]
    assert queues["dlq"]["message_retention_seconds"] == "${local.dlq_retention_seconds}"


def test_dlq_retention_outlives_the_source_queue():
    from inventory_core.topology import TOPOLOGY
    assert TOPOLOGY.dlq_retention_seconds > TOPOLOGY.queue_retention_seconds
    assert TOPOLOGY.dlq_retention_seconds <= 14 * 24 * 3600  # SQS maximum


def test_topics_are_encrypted_and_subscriptions_are_raw(terraform_hcl):
    for _, _, name, body in blocks(terraform_hcl, "resource", "aws_sns_topic"):
        assert body["kms_master_key_id"] == "${aws_kms_key.main.arn}", name
    for _, _, name, body in blocks(terraform_hcl, "resource", "aws_sns_topic_subscription"):
        if body["protocol"] == "sqs":
            assert body["raw_message_delivery"] is True, name


def _alarms(terraform_hcl) -> dict[str, dict]:
    return {name: body for _, _, name, body
            in blocks(terraform_hcl, "resource", "aws_cloudwatch_metric_alarm")}


def test_every_dlq_alarms_on_any_message_that_reaches_it(terraform_hcl):
    """The dead-letter consumer empties each DLQ within seconds, so its depth alone, sampled each
    minute, would rarely see a message; NumberOfMessagesSent misses what the redrive policy moves.
    The alarm adds what the DLQ's consumer received (every arrival) to what stands in it (a
    consumer that is not running)."""
    alarm = _alarms(terraform_hcl)["dlq_not_empty"]
    assert alarm["for_each"] == "${local.queues}"
    assert "metric_name" not in alarm and "namespace" not in alarm  # metric math
    queries = {q["id"]: q for q in alarm["metric_query"]}
    (returned,) = [q for q in queries.values() if q.get("return_data")]
    assert returned["expression"] == "FILL(received, 0) + FILL(standing, 0)"
    received, standing = queries["received"]["metric"][0], queries["standing"]["metric"][0]
    assert (received["metric_name"], received["stat"]) == ("NumberOfMessagesReceived", "Sum")
    assert (standing["metric_name"], standing["stat"]) == ("ApproximateNumberOfMessagesVisible",
                                                          "Maximum")
    for metric in (received, standing):
        assert metric["namespace"] == "AWS/SQS" and metric["period"] == 60
        assert metric["dimensions"] == {"QueueName": "${aws_sqs_queue.dlq[each.key].name}"}
    assert "NumberOfMessagesSent" not in json.dumps(alarm)
    assert alarm["comparison_operator"] == "GreaterThanThreshold" and alarm["threshold"] == 0
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]


def test_parked_outbox_rows_alarm_in_both_services(terraform_hcl):
    alarm = _alarms(terraform_hcl)["outbox_parked"]
    assert alarm["for_each"] == '${toset(["shop", "factory"])}'
    # The metric the sweeps write (consumers/outbox_sweep.py: report), in the stack's namespace.
    assert alarm["metric_name"] == "OutboxParkedRows"
    assert alarm["namespace"] == "${local.metrics_namespace}"
    assert alarm["dimensions"] == {"Service": "${each.key}"}
    assert alarm["comparison_operator"] == "GreaterThanThreshold" and alarm["threshold"] == 0
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]


# --- outputs -------------------------------------------------------------------------------------

def test_outputs_cover_what_zappa_needs(terraform_hcl):
    outputs = set(single_label_blocks(terraform_hcl, "output"))
    assert {"account_id", "region", "name_prefix", "private_subnet_ids", "lambda_security_group_id",
            "role_names", "role_arns", "topic_arns", "queue_arns", "queue_urls", "dlq_arns",
            "database_hosts", "database_secret_arns", "database_urls",
            "zappa_environment"} <= outputs


def test_zappa_environment_uses_only_the_config_variable_names(terraform_hcl):
    locals_ = {k: v for entry in terraform_hcl["outputs.tf"]["locals"] for k, v in entry.items()}
    zappa = locals_["zappa_environment"]
    assert set(zappa) == {"shop", "factory", "consumers"}
    text = (TERRAFORM_DIR / "outputs.tf").read_text()
    section = text[text.index("common_environment = {"):text.index('output "zappa_environment"')]
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", section))
    assert names, "no environment variable found"
    assert names <= set(config.ENV_VARS), names - set(config.ENV_VARS)
    assert "AWS_REGION" not in names, "Lambda reserves AWS_REGION"
    assert "ADMIN_TOKEN" not in names, "a secret is never a Terraform output"
    assert "SHOP_DATABASE_SECRET_ARN" in zappa["shop"]
    assert "FACTORY_DATABASE_SECRET_ARN" in zappa["factory"]
    assert "FACTORY_DATABASE" not in zappa["shop"] and "SHOP_DATABASE" not in zappa["factory"]


def test_every_checkov_skip_gives_a_reason():
    for path in tf_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_AWS_\d+:\S.{20,}", line), (
                    f"{path.name}: {line.strip()}")
