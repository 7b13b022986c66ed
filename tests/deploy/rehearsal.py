"""`make deploy-rehearsal`: the whole deploy of docs/deploy.md, offline, against moto's server.

    .venv/bin/python -m tests.deploy.rehearsal      # ~2 min the first time (builds the venv)

What it does, as a user would after `terraform apply`:
1. a stand-in for Terraform, created in moto: the three roles, a VPC with two subnets and a
   security group, every topology queue with its DLQ, the topics, the `rds!db-…` secrets, the
   admin secret and Zappa's bucket; its outputs in `terraform output -json`'s shape;
2. `python -m deploy.settings --env dev --outputs …` writes zappa_settings.json from them;
3. Zappa's own CLI, from the Lambda virtualenv (deploy.lambda_venv): `zappa deploy` of shop_dev,
   factory_dev and consumers_dev, `deploy.settings --factory-api-url auto`, `zappa update
   consumers_dev`, `zappa status`, and `zappa undeploy` of all three;
4. after each step it asserts what AWS would hold: the functions' configuration, the SQS mappings
   live only with ReportBatchItemFailures, the API stages and their integrations' credentials,
   IAM authorization on the factory, the consumers' factory URL, and nothing left after undeploy.

What it cannot prove: moto evaluates no IAM policy, runs no function behind API Gateway, and has no
VPC networking; tests/infra/test_api_gateway_invoke.py reads the IAM side from Zappa's template and
the .tf files instead. docs/deploy.md lists what only an AWS account can confirm.

Moto allowances, all here (ALLOWANCES), each because moto lacks what AWS has:
- ListFunctionUrlConfigs is missing from moto's Lambda: `zappa update` calls it; a route answering
  "no function URLs" (which is true: no stage has one) is added to the server;
- Zappa's `touch` resolves the real execute-api host name, and the factory's signed health check
  likewise: both are off in a settings overlay (`touch: false`, `signed_touch: false`);
- moto's CloudFormation drops the methods' Integration.Credentials: they are read from the stack
  template Zappa created (which is what CloudFormation applies on AWS);
- moto's CloudFormation deletes a stack but not its REST API: after undeploy the rehearsal checks
  the stacks are gone and only notes the APIs;
- moto's AddPermission answers 200 where Zappa expects 201 (for the EventBridge sweeps), so Zappa
  logs "Problem adding permission" although the permission exists: the rehearsal checks the
  policy itself instead of Zappa's log.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from deploy import lambda_venv
from inventory_core.topology import TOPOLOGY, physical
from tests.project_copy import packageable_copy

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"  # moto's
PREFIX = "replenish-dev"
ENV = "dev"
PROJECT = "stock-replenishment"
STAGES = ("shop_dev", "factory_dev", "consumers_dev")
EXAMPLE_OUTPUTS = ROOT / "deploy" / "example-outputs" / "dev.json"
VENV_DIR = ROOT / "build" / f"venv-lambda2014-{lambda_venv.digest()}"  # shared with test_package
ALLOWANCES = ("ListFunctionUrlConfigs route", "touch and signed_touch off",
              "AddPermission 200 vs 201 logged by Zappa",
              "integration credentials read from the stack's template",
              "REST APIs of deleted stacks left by moto")


class RehearsalFailed(AssertionError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise RehearsalFailed(what)
    print(f"  ok: {what}")


# --- moto's server, with the one missing route ------------------------------------------------

def _list_function_url_configs(request, full_url, headers):
    # ALLOWANCE: moto has no ListFunctionUrlConfigs; no stage of ours has a function URL.
    return 200, {"Content-Type": "application/json"}, json.dumps({"FunctionUrlConfigs": []})


def start_moto():
    import logging

    from moto.awslambda import urls as lambda_urls
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    lambda_urls.url_paths.setdefault(
        r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/urls/?$",
        _list_function_url_configs)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


# --- 1. the Terraform stand-in ------------------------------------------------------------------

def terraform_stand_in(endpoint: str) -> dict:
    """Create in moto what terraform/ creates for dev, and return its outputs (unwrapped)."""
    def client(service):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    outputs = {k: v["value"] for k, v in json.loads(EXAMPLE_OUTPUTS.read_text()).items()}
    iam, ec2, sqs, sns, secrets, s3 = (client(s) for s in
                                       ("iam", "ec2", "sqs", "sns", "secretsmanager", "s3"))
    for arn in outputs["role_arns"].values():
        iam.create_role(RoleName=arn.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["lambda.amazonaws.com", "apigateway.amazonaws.com"]}}]}))
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{n}.0/24",
                                 AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for n, zone in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName=f"{PREFIX}-lambda", Description="lambda",
                                      VpcId=vpc)["GroupId"]
    for queue in TOPOLOGY.queues:
        dlq = sqs.create_queue(QueueName=physical(PREFIX, queue.dlq_name))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sqs.create_queue(QueueName=physical(PREFIX, queue.name), Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": queue.max_receive_count})})
    for topic in TOPOLOGY.topics:
        sns.create_topic(Name=physical(PREFIX, topic.name))
    database_secrets = {
        name: secrets.create_secret(Name=f"rds!db-{name}-rehearsal", SecretString=json.dumps(
            {"username": "replenish_admin", "password": "not-used-offline"}))["ARN"]
        for name in ("shop", "factory")}
    admin = secrets.create_secret(Name=f"{PREFIX}/admin-credential",
                                  SecretString="rehearsal-admin-credential")["ARN"]
    s3.create_bucket(Bucket=f"{PREFIX}-zappa-{ACCOUNT}",
                     CreateBucketConfiguration={"LocationConstraint": REGION})

    outputs["private_subnet_ids"] = subnets
    outputs["lambda_security_group_id"] = group
    outputs["vpc_id"] = vpc
    outputs["database_secret_arns"] = database_secrets
    outputs["admin_secret_arn"] = admin
    for env in outputs["zappa_environment"].values():
        for database, arn in database_secrets.items():
            if f"{database.upper()}_DATABASE_SECRET_ARN" in env:
                env[f"{database.upper()}_DATABASE_SECRET_ARN"] = arn
        if "ADMIN_SECRET_ARN" in env:
            env["ADMIN_SECRET_ARN"] = admin
    return outputs


# --- 2. and 3. the commands a user runs ----------------------------------------------------------

class Project:
    def __init__(self, directory: Path, endpoint: str, venv_dir: Path):
        self.directory = directory
        self.settings_file = directory / "zappa_settings.json"
        self.environ = {**os.environ, "AWS_ENDPOINT_URL": endpoint,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                        "VIRTUAL_ENV": str(venv_dir),
                        "PATH": f"{venv_dir / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        for name in ("PYTHONPATH", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self.environ.pop(name, None)
        self.zappa = str(venv_dir / "bin" / "zappa")

    def run(self, *command: str, timeout: int = 300) -> str:
        print(f"$ {' '.join(Path(c).name if c == self.zappa else c for c in command)}")
        done = subprocess.run(command, cwd=self.directory, env=self.environ, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RehearsalFailed(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n"
                                  f"{done.stderr[-3000:]}")
        return done.stdout + done.stderr

    def settings(self, outputs: Path, *extra: str) -> None:
        # the dev virtualenv runs deploy.settings, from the copy (its CA bundle, its files)
        self.run(sys.executable, "-m", "deploy.settings", "--env", ENV, "--outputs",
                 str(outputs), "--settings", str(self.settings_file), *extra)
        self.overlay()

    def overlay(self, signed_touch: frozenset[str] = frozenset()) -> None:
        """ALLOWANCE: no `touch` offline (it resolves the real execute-api host name), except
        the signed one of the stages named, to see it fail."""
        settings = json.loads(self.settings_file.read_text())
        for stage in STAGES:
            settings[stage]["touch"] = False
            settings[stage]["signed_touch"] = stage in signed_touch
        self.settings_file.write_text(json.dumps(settings, indent=2))

    def zappa_cmd(self, *args: str) -> str:
        return self.run(self.zappa, *args, "-s", str(self.settings_file))


# --- 4. what AWS (moto) holds ---------------------------------------------------------------------

def function_name(stage: str) -> str:
    return f"{PROJECT}-{stage.replace('_', '-')}"


def verify_functions(aws, outputs: dict) -> None:
    for stage in STAGES:
        service = stage.split("_")[0]
        config = aws("lambda").get_function(FunctionName=function_name(stage))["Configuration"]
        check(config["Role"] == outputs["role_arns"][service]
              and config["Runtime"] == "python3.11"
              and set(config["VpcConfig"]["SubnetIds"]) == set(outputs["private_subnet_ids"]),
              f"{stage}: function with its role, python3.11, the private subnets")
        check(config["Timeout"] <= 30 and config["MemorySize"] == 512,
              f"{stage}: timeout {config['Timeout']} s, 512 MB")


def stage_environment(project: Project, stage: str) -> dict:
    """Zappa bakes a stage's `environment_variables` into the package (zappa_settings.py), not
    into Lambda's configuration: read them from the settings it packaged."""
    return json.loads(project.settings_file.read_text())[stage]["environment_variables"]


def verify_mappings(aws, stage: str, expected: int) -> dict[str, dict]:
    arn = aws("lambda").get_function(FunctionName=function_name(stage))["Configuration"][
        "FunctionArn"]
    mappings = aws("lambda").list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]
    check(len(mappings) == expected, f"{stage}: {expected} SQS mappings")
    check(all(m["State"] == "Enabled" and m.get("FunctionResponseTypes") ==
              ["ReportBatchItemFailures"] for m in mappings),
          f"{stage}: every mapping enabled, and only with ReportBatchItemFailures")
    return {m["EventSourceArn"]: m for m in mappings}


def verify_api(aws, stage: str, outputs: dict, authorization: str) -> str:
    apis = {api["name"]: api["id"] for api in aws("apigateway").get_rest_apis()["items"]}
    api_id = apis.get(function_name(stage))
    check(api_id is not None, f"{stage}: a REST API (v1) named after the function")
    stages = [s["stageName"] for s in aws("apigateway").get_stages(restApiId=api_id)["item"]]
    check(stage in stages, f"{stage}: its API Gateway stage")
    role = outputs["role_arns"][stage.split("_")[0]]
    for resource in aws("apigateway").get_resources(restApiId=api_id)["items"]:
        for method in (resource.get("resourceMethods") or {}):
            answer = aws("apigateway").get_method(restApiId=api_id, resourceId=resource["id"],
                                                  httpMethod=method)
            if answer["httpMethod"] == "OPTIONS":
                continue
            if answer["authorizationType"] != authorization:
                raise RehearsalFailed(f"{stage} {method} {resource['path']}: {answer}")
    check(True, f"{stage}: every method's authorization is {authorization}")
    # ALLOWANCE: moto's CloudFormation drops Integration.Credentials from the methods it makes;
    # read them from the stack Zappa created instead.
    template = aws("cloudformation").get_template(StackName=function_name(stage))["TemplateBody"]
    template = json.loads(template) if isinstance(template, str) else template
    credentials = {r["Properties"]["Integration"].get("Credentials")
                   for r in template["Resources"].values()
                   if r["Type"] == "AWS::ApiGateway::Method"}
    check(credentials == {role}, f"{stage}: its stack's integrations assume its role {role}")
    return f"https://{api_id}.execute-api.{REGION}.amazonaws.com/{stage}"


def build_venv() -> Path:
    """deploy.lambda_venv's virtualenv in build/, under the lock test_package.py takes too."""
    import fcntl

    VENV_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV_DIR.parent / "venv-lambda.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return lambda_venv.build(VENV_DIR)


def rehearse(work: Path) -> dict:
    started = time.monotonic()
    print("building the Lambda virtualenv (manylinux2014, cached in build/)")
    venv_dir = build_venv()
    server, endpoint = start_moto()
    try:
        def aws(service):
            return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                                aws_access_key_id="testing", aws_secret_access_key="testing")

        print("1. the Terraform stand-in")
        outputs = terraform_stand_in(endpoint)
        outputs_file = work / "outputs.json"
        outputs_file.write_text(json.dumps({k: {"sensitive": False, "type": "x", "value": v}
                                            for k, v in outputs.items()}))
        project = Project(packageable_copy(work / "project"), endpoint, venv_dir)

        print("2. settings from the outputs")
        project.settings(outputs_file)
        settings = json.loads(project.settings_file.read_text())
        check(all(e["event_source"]["enabled"] is False for s in STAGES
                  for e in settings[s]["events"] if "event_source" in e),
              "every SQS mapping is declared disabled (the callback enables it)")

        print("3. zappa deploy, the factory's first one with a health check that fails")
        project.overlay(signed_touch=frozenset({"factory_dev"}))  # offline: its host never answers
        try:
            project.zappa_cmd("deploy", "factory_dev")
        except RehearsalFailed as failed:
            check("signed GET" in str(failed), "factory_dev: deploy stops at the failed health "
                  "check, before the callback enables anything")
        else:
            raise RehearsalFailed("factory_dev deployed although its health check cannot pass")
        states = {m["State"] for m in aws("lambda").list_event_source_mappings(
            FunctionName=aws("lambda").get_function(FunctionName=function_name("factory_dev"))[
                "Configuration"]["FunctionArn"])["EventSourceMappings"]}
        check(states == {"Disabled"}, "factory_dev: its mapping stays disabled (messages wait, "
              "none is deleted)")
        project.overlay()
        project.zappa_cmd("update", "factory_dev")  # the next update enables it
        for stage in ("shop_dev", "consumers_dev"):
            out = project.zappa_cmd("deploy", stage)
            check("no shared object newer than glibc 2.26" in out, f"{stage}: zip callback ran")
        verify_functions(aws, outputs)
        shop_url = verify_api(aws, "shop_dev", outputs, "NONE")
        factory_url = verify_api(aws, "factory_dev", outputs, "AWS_IAM")
        verify_mappings(aws, "factory_dev", 1)
        consumer_queues = len(TOPOLOGY.queues) - 1 + len(TOPOLOGY.queues)
        verify_mappings(aws, "consumers_dev", consumer_queues)
        rules = aws("events").list_rules()["Rules"]
        check(len([r for r in rules if "outbox_sweep" in r["Name"]]) == 2,
              "the two outbox sweeps are scheduled (EventBridge)")
        factory_env = stage_environment(project, "factory_dev")
        check(factory_env["FACTORY_WRITER_ROLE_ARN"] == outputs["role_arns"]["consumers"],
              "factory_dev accepts writes from the consumers' role only")

        print("4. the factory's URL into the consumers' settings, zappa update")
        project.settings(outputs_file, "--factory-api-url", "auto")
        project.zappa_cmd("update", "consumers_dev")
        found = stage_environment(project, "consumers_dev")["FACTORY_API_URL"]
        check(found.split("/")[-1] == "factory_dev" and ".execute-api." in found,
              f"consumers_dev calls the deployed factory stage ({found})")
        verify_mappings(aws, "consumers_dev", consumer_queues)  # live again after update
        status = project.zappa_cmd("status", "consumers_dev")
        check("Lambda Name" in status or "Lambda Versions" in status, "zappa status answers")

        print("5. zappa undeploy")
        for stage in STAGES:
            project.zappa_cmd("undeploy", stage, "--yes", "--remove-logs")
        left = [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]
        check(left == [], "no function left")
        stacks = [st["StackName"] for st in aws("cloudformation").list_stacks()["StackSummaries"]
                  if st["StackStatus"] != "DELETE_COMPLETE"]
        check(not [name for name in stacks if name.startswith(PROJECT)],
              "every API Gateway stack deleted")
        apis = [a["name"] for a in aws("apigateway").get_rest_apis()["items"]]
        if apis:  # ALLOWANCE: moto's stack deletion leaves the REST APIs (AWS deletes them)
            print(f"  note: moto keeps {len(apis)} REST API(s) of the deleted stacks")
        mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
        check(mappings == [], "no event source mapping left")
        seconds = round(time.monotonic() - started)
        print(f"rehearsal passed in {seconds} s (moto allowances: {', '.join(ALLOWANCES)})")
        return {"seconds": seconds, "shop_url": shop_url, "factory_url": factory_url}
    finally:
        server.stop()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="deploy-rehearsal-") as work:
        try:
            rehearse(Path(work))
        except RehearsalFailed as exc:
            print(f"REHEARSAL FAILED: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
