"""API Gateway can invoke what Zappa wires it to, and only the consumers can call the factory.

The API Gateway template is generated the way `zappa deploy`/`update` generate it (ZappaCLI with
the committed settings, then `Zappa.create_stack_template` with the CLI's own arguments). For a
REST API (v1) Zappa 0.63 gives every method's integration `Credentials` = the stage's role ARN and
adds no `AWS::Lambda::Permission`: API Gateway *assumes that role* and invokes the function with
it. So our Terraform must let API Gateway assume the role and let the role invoke that function
(read here from the .tf files). Moto evaluates no IAM; only this test sees it.
"""
from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws

from tests.infra.conftest import REPO, as_list, blocks

SETTINGS = REPO / "zappa_settings.json"
REGION = "ap-northeast-2"
pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")


def zappa_cli(stage: str):
    """ZappaCLI of `stage`, loaded from an empty directory: Zappa walks the working directory for
    `zappa.websocket` imports (and would add a WebSocket API when a virtualenv under it has
    Zappa's own sources, e.g. build/venv-lambda-*; deploy.callbacks.check_package refuses that)."""
    import os
    import tempfile

    from zappa.cli import ZappaCLI

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as empty:
        os.chdir(empty)
        try:
            cli = ZappaCLI()
            cli.api_stage = stage
            cli.vargs = {"output_path": None}
            cli.load_settings(settings_file=str(SETTINGS),
                              session=boto3.Session(region_name=REGION))
        finally:
            os.chdir(here)
    assert not cli.use_websocket
    return cli


@mock_aws
def api_template(stage: str) -> tuple[dict, object]:
    """The CloudFormation template `zappa deploy <stage>` would create, and the CLI."""
    cli = zappa_cli(stage)
    # what Zappa's get_credentials_arn reads from IAM for role_name (manage_roles: false)
    cli.zappa.credentials_arn = cli.stage_config["role_arn"]
    account = cli.stage_config["role_arn"].split(":")[4]
    lambda_arn = f"arn:aws:lambda:{REGION}:{account}:function:{cli.lambda_name}"
    template = cli.zappa.create_stack_template(  # the arguments of cli.py's deploy()
        lambda_arn=lambda_arn, lambda_name=cli.lambda_name,
        api_key_required=cli.api_key_required, iam_authorization=cli.iam_authorization,
        authorizer=cli.authorizer, cors_options=cli.cors,
        description=cli.apigateway_description,
        endpoint_configuration=cli.endpoint_configuration,
        apigateway_version=cli.apigateway_version, stage_name=cli.api_stage,
        lambda_qualifier=cli.apigateway_lambda_qualifier, websocket=cli.use_websocket)
    return json.loads(template.to_json()), cli


def iam_locals(terraform_hcl) -> dict:
    return {k: v for entry in terraform_hcl["iam.tf"]["locals"] for k, v in entry.items()}


def documents(terraform_hcl) -> dict:
    return {name: body for _, _, name, body in blocks(terraform_hcl, "data",
                                                      "aws_iam_policy_document")}


def assumers(terraform_hcl, service: str) -> set[str]:
    """The service principals the role of `service` trusts (aws_iam_role.service's policy)."""
    roles = {name: body for _, _, name, body in blocks(terraform_hcl, "resource", "aws_iam_role")}
    assert roles["service"]["assume_role_policy"] == (
        "${data.aws_iam_policy_document.service_assume[each.key].json}")
    (statement,) = as_list(documents(terraform_hcl)["service_assume"]["statement"])
    assert statement["actions"] == ["sts:AssumeRole"]
    identifiers = statement["principals"][0]["identifiers"]
    api = iam_locals(terraform_hcl)["services"][service]["api"]
    if isinstance(identifiers, list):
        return set(identifiers)
    # "${each.value.api ? [a, b] : [c]}": the branch this service takes
    match = re.fullmatch(r"\$\{each\.value\.api \? \[([^\]]*)\] : \[([^\]]*)\]\}", identifiers)
    assert match, identifiers
    branch = match.group(1) if api in (True, "true") else match.group(2)
    return {name.strip().strip('"') for name in branch.split(",")}


def function_name(terraform_hcl, service: str, env: str) -> str:
    """local.function_names[service] for `env`, evaluated from its HCL."""
    locals_ = iam_locals(terraform_hcl)
    expression = locals_["function_names"]
    assert "${local.zappa_project_name}-${key}-${var.environment}" in expression
    assert ":function:${name}" in locals_["function_arns"]
    return f"{locals_['zappa_project_name']}-{service}-{env}"


def statement_with(terraform_hcl, document: str, action: str) -> dict:
    found = [s for s in as_list(documents(terraform_hcl)[document]["statement"])
             if action in s["actions"]]
    assert len(found) == 1, (document, action, found)
    return found[0]


@pytest.mark.parametrize("stage", ["shop_dev", "factory_dev", "shop_prod", "factory_prod"])
def test_api_gateway_can_invoke_each_api_function_with_its_role(stage, terraform_hcl):
    template, cli = api_template(stage)
    service, env = stage.split("_")
    resources = template["Resources"].values()
    methods = [r for r in resources if r["Type"] == "AWS::ApiGateway::Method"]
    assert methods
    # Zappa's wiring: API Gateway assumes the stage's role; no resource-based permission
    assert {m["Properties"]["Integration"]["Credentials"] for m in methods} == {
        cli.stage_config["role_arn"]}
    assert not [r for r in resources if r["Type"] == "AWS::Lambda::Permission"]
    # ... so Terraform's role for the service must be assumable by API Gateway ...
    assert "apigateway.amazonaws.com" in assumers(terraform_hcl, service)
    assert "lambda.amazonaws.com" in assumers(terraform_hcl, service)
    # ... and may invoke exactly the function Zappa names, nothing else
    invoke = statement_with(terraform_hcl, service, "lambda:InvokeFunction")
    assert invoke["actions"] == ["lambda:InvokeFunction"]
    assert invoke["resources"] == [f"${{local.function_arns.{service}}}"]
    assert function_name(terraform_hcl, service, env) == cli.lambda_name
    # the role Terraform outputs is the one the stage names
    assert cli.stage_config["role_name"].endswith(f"-{service}")


def test_consumers_are_trusted_by_lambda_only_and_invoke_no_function(terraform_hcl):
    assert assumers(terraform_hcl, "consumers") == {"lambda.amazonaws.com"}
    for statement in as_list(documents(terraform_hcl)["consumers"]["statement"]):
        assert "lambda:InvokeFunction" not in statement["actions"]


def test_factory_methods_need_iam_authorization_and_only_consumers_may_invoke(terraform_hcl):
    for stage in ("factory_dev", "factory_prod"):
        template, cli = api_template(stage)
        methods = [r["Properties"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::ApiGateway::Method"]
        assert {m["AuthorizationType"] for m in methods} == {"AWS_IAM"}, stage
        # an unsigned touch would get 403 and stop `zappa deploy`: the callback signs instead
        assert cli.stage_config["touch"] is False
        env = cli.stage_config["environment_variables"]
        assert env["FACTORY_WRITER_ROLE_ARN"].endswith("-consumers")
        consumers = zappa_cli(stage.replace("factory", "consumers")).stage_config
        assert env["FACTORY_WRITER_ROLE_ARN"] == consumers["role_arn"]
        assert re.search(r"\[\{[\"']?Invoke", json.dumps(methods)) is None  # no API key path
    for stage in ("shop_dev", "shop_prod"):
        template, cli = api_template(stage)
        methods = [r["Properties"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::ApiGateway::Method"]
        assert {m["AuthorizationType"] for m in methods} == {"NONE"}, stage
        assert cli.stage_config.get("touch", True) is True
    # execute-api:Invoke: the consumers on the factory's stage only
    locals_ = iam_locals(terraform_hcl)
    assert locals_["factory_stage_name"] == "factory_${var.environment}"
    assert locals_["factory_api_execute_arn"].endswith(
        ":execute-api:${local.region}:${local.account_id}:*/${local.factory_stage_name}/*/*")
    call = statement_with(terraform_hcl, "consumers", "execute-api:Invoke")
    assert call["resources"] == ["${local.factory_api_execute_arn}"]
    for service in ("shop", "factory"):
        for statement in as_list(documents(terraform_hcl)[service]["statement"]):
            assert not any(a.startswith("execute-api:") for a in statement["actions"])
