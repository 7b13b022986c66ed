"""Write zappa_settings.json from the topology and Terraform's outputs: the one command between
`terraform apply` and `zappa deploy`.

    .venv/bin/python -m deploy.settings --env dev --terraform-dir terraform  # runs terraform output
    .venv/bin/python -m deploy.settings --env dev --outputs outputs.json     # its output, saved
    .venv/bin/python -m deploy.settings --env dev --terraform-dir terraform --factory-api-url auto
    .venv/bin/python -m deploy.settings --example                            # the committed file

Names of queues, their consumers and batching come from `inventory_core.topology`; ARNs, subnets,
security group, roles and the functions' environment from Terraform; nothing is copied by hand and
no secret is written (database passwords stay in Secrets Manager, only their ARNs appear).
Only the stages of `--env` are rewritten; the other environment's stages are kept as they were.
All or nothing: every stage is built and every check passes (outputs, CA bundle) before the file is
replaced, in one rename.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from deploy import capacity, rds_ca
from inventory_core import config
from inventory_core.topology import SCHEDULES, TOPOLOGY, Queue, physical

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "zappa_settings.json"
EXAMPLE_OUTPUTS = {env: Path(__file__).resolve().parent / "example-outputs" / f"{env}.json"
                   for env in ("dev", "prod")}

PROJECT_NAME = "stock-replenishment"
ENVIRONMENTS = ("dev", "prod")
SERVICES = ("shop", "factory", "consumers")
RUNTIME = "python3.11"  # the Lambda runtime we package for, whatever Python runs this
CALLBACKS = {"zip": "deploy.callbacks.finish_package", "post": "deploy.callbacks.post_deploy"}
OUTBOX_SWEEP_RATE = "rate(1 minute)"
SWEEPS = {"shop": "consumers.outbox_sweep.shop_handler",
          "factory": "consumers.outbox_sweep.factory_handler"}
APP_FUNCTIONS = {"shop": "shop_api.wsgi.app", "factory": "factory_api.wsgi.app"}
# Which service's function consumes each topology queue. The factory reads its own delayed
# "production due" queue; every other queue, and every dead-letter queue, goes to `consumers`.
QUEUE_SERVICE = {"production": "factory"}
DEFAULT_QUEUE_SERVICE = "consumers"
DEAD_LETTER_SERVICE = "consumers"
# AWS: a queue's visibility timeout should be at least 6x the timeout of the function reading it.
VISIBILITY_TO_TIMEOUT = 6
API_TIMEOUT_SECONDS = 30  # API Gateway gives up after 29 s anyway
# Ours, not Zappa's (Zappa ignores it): deploy.callbacks sets each mapping's MaximumConcurrency.
SQS_MAXIMUM_CONCURRENCY_KEY = "sqs_maximum_concurrency"
MEMORY_MB = {"shop": 512, "factory": 512, "consumers": 512}
# Placeholder until the factory stage exists: `.invalid` never resolves (RFC 2606), so the order
# consumer fails loudly and its messages are retried instead of going to a wrong address.
FACTORY_URL_PLACEHOLDER = "https://factory-api-url-not-set.invalid"
# Lambda sets these itself and refuses them in a function's configuration.
RESERVED_ENV = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV",
                "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER"}
# Never part of a deployed environment: local-only (moto) or secret.
NOT_DEPLOYED_ENV = {config.AWS_ENDPOINT_URL, config.ADMIN_TOKEN}

# The factory's API Gateway stage uses IAM authorization (Zappa's `iam_authorization`: every
# method's AuthorizationType AWS_IAM): only SigV4-signed callers allowed execute-api:Invoke (the
# consumers' role) get through; the app then checks the caller is FACTORY_WRITER_ROLE_ARN.
IAM_AUTHORIZED = {"factory"}

# Everything a Lambda package must not hold. Zappa matches each pattern against every file and
# directory name, in the project and in site-packages (shutil.ignore_patterns).
EXCLUDE = [
    # the project's own non-runtime parts
    "tests", "bench", "terraform", "docs", "seeds", "tools", "local_stack", ".ci", "var", "build",
    "dist", "test-artifacts", "*.egg-info", "Makefile", "zappa_settings.json", "example-outputs",
    ".pre-commit-config.yaml", "pyproject.toml", "README.md",
    # virtualenvs, caches and build output
    ".venv", ".venv-*", "venv", ".terraform", "*.tfstate*", "*.tfplan", ".pytest_cache",
    "__pycache__", "*.pyc", "*.pyo", ".git*", ".mypy_cache", ".ruff_cache", ".env", "*.zip",
    ".hypothesis", ".bandit", ".coverage*", "htmlcov", "requirements",
    # dev and test tools, should any be in the build virtualenv
    "pytest", "_pytest", "pytest_*", "py.py", "pluggy", "iniconfig", "xdist", "execnet", "moto",
    "responses", "gunicorn", "hcl2", "lark", "checkov", "cfnlint", "docker", "pip", "setuptools",
    "wheel", "_distutils_hack", "pkg_resources", "distutils-precedence.pth",
    # provided by the Lambda Python runtime (as `zappa init` excludes them too)
    "boto3", "botocore", "s3transfer",
    # what only Zappa's command line needs, never its handler (CloudFormation templates, progress
    # bars, YAML): the handler imports werkzeug, boto3, botocore and durationpy only
    "troposphere", "cfn_flip", "cfn_clean", "cfn_tools", "placebo", "hjson", "tqdm", "argcomplete",
    "kappa", "toml", "yaml", "_yaml", "slugify", "text_unidecode",
    # Swagger UI's source maps and the builds /docs never loads (api_common.swagger_ui serves
    # swagger-ui-bundle.js, swagger-ui.css and a favicon): 6.8 of swagger-ui-bundle's 8.3 MB
    "*.js.map", "*.css.map", "swagger-ui-es-bundle*.js", "swagger-ui.js",
    "swagger-ui-standalone-preset.js",
]


class OutputsError(ValueError):
    """Terraform's outputs lack something the settings need, or disagree with the topology."""


# --- reading Terraform's outputs ---------------------------------------------------------------

def unwrap(raw: dict) -> dict:
    """`terraform output -json` wraps each value as {"sensitive", "type", "value"}: take the
    values."""
    return {name: (item["value"] if isinstance(item, dict) and "value" in item and "type" in item
                   else item) for name, item in raw.items()}


def read_outputs(terraform_dir: str | Path | None = None, outputs_file: str | Path | None = None,
                 run=subprocess.run) -> dict:
    if outputs_file is not None:
        return unwrap(json.loads(Path(outputs_file).read_text()))
    done = run(["terraform", f"-chdir={terraform_dir}", "output", "-json"], check=True,
               capture_output=True, text=True)
    return unwrap(json.loads(done.stdout))


def _need(outputs: dict, name: str, *keys: str) -> Any:
    value = outputs.get(name)
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            value = None
            break
        value = value[key]
    if value in (None, "", [], {}):
        path = ".".join((name, *keys))
        raise OutputsError(f"Terraform output {path!r} is missing: run `terraform apply` first, "
                           "or check terraform/outputs.tf")
    return value


def _arn_named(arn: str, expected_name: str, what: str) -> str:
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs" or parts[5] != expected_name:
        raise OutputsError(f"{what} ARN {arn!r} does not name the topology's queue "
                           f"{expected_name!r}")
    return arn


# --- building the stages ------------------------------------------------------------------------

def queue_service(queue: Queue) -> str:
    return QUEUE_SERVICE.get(queue.key, DEFAULT_QUEUE_SERVICE)


def stage_name(service: str, env: str) -> str:
    return f"{service}_{env}"


def lambda_timeout(service: str) -> int:
    """The longest timeout the service's queues allow (visibility >= 6x timeout), at most 30 s."""
    visibilities = [q.visibility_timeout for q in TOPOLOGY.queues if queue_service(q) == service]
    if service == DEAD_LETTER_SERVICE:
        visibilities += [q.visibility_timeout for q in TOPOLOGY.queues]  # DLQs: see docs/deploy.md
    if not visibilities:
        return API_TIMEOUT_SECONDS
    return min(API_TIMEOUT_SECONDS, min(visibilities) // VISIBILITY_TO_TIMEOUT)


def sqs_events(service: str, outputs: dict) -> list[dict]:
    """Zappa `events` binding each of the service's queues (and, for consumers, every DLQ) to its
    consumer. Only keys Zappa 0.63's SqsEventSource reads: arn, batch_size, batch_window,
    enabled.

    Every mapping is created (and, on `zappa update`, left) *disabled*: Zappa cannot set
    FunctionResponseTypes, and an enabled mapping without ReportBatchItemFailures makes Lambda
    delete every message of a batch the function returns from, failed ones included. The
    post-deploy callback (deploy.callbacks) turns the setting on and enables each mapping in the
    same update; if it never runs, the queues wait (their age alarms fire) and lose nothing."""
    prefix = _need(outputs, "name_prefix")
    terraform_sources = (outputs.get("sqs_event_sources") or {}).get("queues", {})
    events = []
    for queue in TOPOLOGY.queues:
        declared = (terraform_sources.get(queue.key) or {}).get("service")
        if declared and declared != queue_service(queue):
            raise OutputsError(f"Terraform gives queue {queue.key!r} to {declared!r}, "
                               f"deploy.settings to {queue_service(queue)!r}")
        if queue_service(queue) != service:
            continue
        arn = _arn_named(_need(outputs, "queue_arns", queue.key), physical(prefix, queue.name),
                         f"queue {queue.key}")
        events.append({"function": queue.consumer, "event_source": {
            "arn": arn, "batch_size": queue.batch_size, "batch_window": queue.batch_window,
            "enabled": False}})
    if service == DEAD_LETTER_SERVICE:
        for queue in TOPOLOGY.queues:
            arn = _arn_named(_need(outputs, "dlq_arns", queue.key),
                             physical(prefix, queue.dlq_name), f"dead-letter queue {queue.key}")
            events.append({"function": TOPOLOGY.dead_letter_consumer, "event_source": {
                "arn": arn, "batch_size": TOPOLOGY.dead_letter_batch_size,
                "batch_window": TOPOLOGY.dead_letter_batch_window, "enabled": False}})
    return events


def sqs_maximum_concurrency(service: str, outputs: dict) -> dict[str, int]:
    """{queue ARN: ScalingConfig.MaximumConcurrency} of each of the service's SQS mappings, from
    deploy.capacity. Zappa cannot set it; deploy.callbacks reads this stage key and does."""
    prefix = _need(outputs, "name_prefix")
    found = {}
    for queue in TOPOLOGY.queues:
        if queue_service(queue) == service:
            arn = _arn_named(_need(outputs, "queue_arns", queue.key),
                             physical(prefix, queue.name), f"queue {queue.key}")
            found[arn] = capacity.mapping_concurrency(queue.key)
        if service == DEAD_LETTER_SERVICE:
            arn = _arn_named(_need(outputs, "dlq_arns", queue.key),
                             physical(prefix, queue.dlq_name), f"dead-letter queue {queue.key}")
            found[arn] = capacity.mapping_concurrency(queue.key, dead_letter=True)
    return found


def environment(service: str, outputs: dict, factory_api_url: str | None) -> dict[str, str]:
    env = {str(k): str(v) for k, v in _need(outputs, "zappa_environment", service).items()}
    unknown = set(env) - set(config.ENV_VARS)
    if unknown:
        raise OutputsError(f"zappa_environment.{service} has names inventory_core.config does not "
                           f"read: {sorted(unknown)}")
    for name in RESERVED_ENV | NOT_DEPLOYED_ENV:
        env.pop(name, None)
    for name in (config.SHOP_DATABASE_URL, config.FACTORY_DATABASE_URL):
        if name in env:
            env[name] = rds_ca.verified_url(env[name])  # TLS, checked against the packaged CAs
    env[config.NAME_PREFIX] = _need(outputs, "name_prefix")
    if service == "consumers":
        env[config.FACTORY_API_URL] = (factory_api_url or env.get(config.FACTORY_API_URL)
                                       or FACTORY_URL_PLACEHOLDER)
    return dict(sorted(env.items()))


def base_stage() -> dict:
    return {
        "project_name": PROJECT_NAME,
        "runtime": RUNTIME,
        "architecture": "x86_64",
        "debug": False,
        "log_level": "INFO",
        "manage_roles": False,  # Terraform owns the roles (least privilege, one per service)
        "keep_warm": False,
        "timeout_seconds": API_TIMEOUT_SECONDS,
        "memory_size": 512,
        "binary_support": False,
        "cors": False,
        "xray_tracing": False,
        "slim_handler": False,
        # Packages come from the Lambda virtualenv (deploy/lambda_venv.py: manylinux2014 wheels
        # for python3.11), never swapped for Zappa's lambda-packages or this machine's wheels.
        "use_precompiled_packages": False,
        "endpoint_configuration": ["REGIONAL"],
        "touch_path": "/health",
        "num_retained_versions": 5,
        "callbacks": dict(CALLBACKS),
        "exclude": list(EXCLUDE),
    }


def env_stages(env: str, outputs: dict, factory_api_url: str | None = None) -> dict[str, dict]:
    declared_env = outputs.get("environment")
    if declared_env and declared_env != env:
        raise OutputsError(f"these outputs are of environment {declared_env!r}, not {env!r}")
    subnets = _need(outputs, "private_subnet_ids")
    vpc_config = {"SubnetIds": list(subnets),
                  "SecurityGroupIds": [_need(outputs, "lambda_security_group_id")]}
    account_id = _need(outputs, "account_id")
    prefix = _need(outputs, "name_prefix")
    common = {
        "aws_region": _need(outputs, "region"),
        "s3_bucket": outputs.get("deployment_bucket") or f"{prefix}-zappa-{account_id}",
        "vpc_config": vpc_config,
    }
    stages = {}
    for service in SERVICES:
        stage: dict[str, Any] = {
            "extends": "base",
            **common,
            "role_name": _need(outputs, "role_names", service),
            "role_arn": _need(outputs, "role_arns", service),
            "memory_size": MEMORY_MB[service],
            "timeout_seconds": lambda_timeout(service),
            "lambda_description": f"{PROJECT_NAME} {service} ({env})",
            "tags": {"Project": PROJECT_NAME, "Environment": env, "Service": service},
            "environment_variables": environment(service, outputs, factory_api_url),
            # The connection budget (deploy/capacity.py, docs/capacity.md): at most this many
            # containers, each with one connection (inventory_core.config.LAMBDA_POOL).
            "lambda_concurrency": capacity.RESERVED_CONCURRENCY[service],
        }
        events = sqs_events(service, outputs)
        if events:
            stage[SQS_MAXIMUM_CONCURRENCY_KEY] = sqs_maximum_concurrency(service, outputs)
        if service in APP_FUNCTIONS:
            stage["app_function"] = APP_FUNCTIONS[service]
            # Keep the public APIs warm in prod (a cold start in a VPC costs seconds); dev saves.
            stage["keep_warm"] = env == "prod"
            if env == "prod":
                stage["keep_warm_expression"] = "rate(4 minutes)"
            events.append({"function": SWEEPS[service], "expression": OUTBOX_SWEEP_RATE,
                           "description": f"Outbox sweep of the {service} database"})
        else:
            stage["apigateway_enabled"] = False
        events += [{"function": s.function, "expression": rate_expression(s.rate_minutes),
                    "description": s.description} for s in SCHEDULES if s.service == service]
        if service in IAM_AUTHORIZED:
            stage["iam_authorization"] = True
            # Zappa's `touch` is an unsigned GET: IAM authorization answers it 403 and Zappa stops
            # before the post-deploy callback. The callback makes a signed GET /health instead.
            stage["touch"] = False
            if not stage["environment_variables"].get(config.FACTORY_WRITER_ROLE_ARN):
                raise OutputsError(f"zappa_environment.{service} lacks "
                                   f"{config.FACTORY_WRITER_ROLE_ARN}: without it the factory "
                                   "refuses every write (terraform/outputs.tf)")
        stage["events"] = events
        stages[stage_name(service, env)] = stage
    return stages


def rate_expression(minutes: int) -> str:
    """EventBridge's rate syntax: singular unit for 1 ("rate(1 minute)", "rate(1 hour)"),
    plural otherwise."""
    amount, unit = (minutes // 60, "hour") if minutes % 60 == 0 else (minutes, "minute")
    return f"rate({amount} {unit}{'' if amount == 1 else 's'})"


def build(existing: dict | None, env_outputs: dict[str, dict],
          factory_api_urls: dict[str, str | None] | None = None) -> dict:
    """The whole settings: `base`, the stages of each environment in `env_outputs` rebuilt, the
    stages of any other environment kept from `existing`."""
    factory_api_urls = factory_api_urls or {}
    settings: dict[str, dict] = {"base": base_stage()}
    for env in ENVIRONMENTS:
        if env in env_outputs:
            settings.update(env_stages(env, env_outputs[env], factory_api_urls.get(env)))
        else:
            for service in SERVICES:
                name = stage_name(service, env)
                if existing and name in existing:
                    settings[name] = existing[name]
    return settings


def render(settings: dict) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def example_settings() -> dict:
    """The committed zappa_settings.json: every environment from the placeholder outputs."""
    return build(None, {env: read_outputs(outputs_file=path)
                        for env, path in EXAMPLE_OUTPUTS.items()})


def discover_factory_api_url(env: str, outputs: dict, settings: dict | None = None) -> str:
    """The factory stage's API Gateway URL, as Zappa itself finds it (after `zappa deploy
    factory_<env>`)."""
    import slugify
    from zappa.core import Zappa
    from zappa.utilities import validate_name

    stage = stage_name("factory", env)
    project = validate_name(((settings or {}).get("base") or {}).get("project_name", PROJECT_NAME))
    lambda_name = slugify.slugify(f"{project}-{stage}")
    zappa = Zappa(aws_region=_need(outputs, "region"), load_credentials=True)
    url = zappa.get_api_url(lambda_name, stage)
    if not url:
        raise OutputsError(f"no API Gateway URL for {lambda_name}: run `zappa deploy {stage}` "
                           "first")
    return url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.settings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--terraform-dir", help="run `terraform output -json` in this directory")
    source.add_argument("--outputs", help="a file holding `terraform output -json`")
    source.add_argument("--example", action="store_true",
                        help="regenerate the committed file from deploy/example-outputs/")
    parser.add_argument("--env", choices=ENVIRONMENTS, help="the environment these outputs are of")
    parser.add_argument("--factory-api-url", help="the factory API's base URL for the order "
                        "consumer, or `auto` to ask API Gateway for the deployed factory stage's "
                        "URL")
    parser.add_argument("--settings", default=str(SETTINGS_FILE), help="file to write")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the file differs from what would be written")
    args = parser.parse_args(argv)

    path = Path(args.settings)
    existing = json.loads(path.read_text()) if path.exists() else None
    if args.example:
        settings = example_settings()
    else:
        if not args.env:
            parser.error("--env is required with --terraform-dir or --outputs")
        outputs = read_outputs(args.terraform_dir, args.outputs)
        factory_url = args.factory_api_url
        if factory_url == "auto":
            factory_url = discover_factory_api_url(args.env, outputs, existing)
        settings = build(existing, {args.env: outputs}, {args.env: factory_url})
    text = render(settings)
    if args.check:
        same = path.exists() and path.read_text() == text
        print(f"{path}: {'up to date' if same else 'differs from the generated settings'}")
        return 0 if same else 1
    if not args.example and not _ensure_ca_bundle():
        print(f"{path} left as it was", file=sys.stderr)
        return 1
    _replace(path, text)
    stages = ", ".join(name for name in settings if name != "base")
    print(f"wrote {path}: stages {stages}")
    for name, stage in settings.items():
        url = stage.get("environment_variables", {}).get(config.FACTORY_API_URL)
        if url == FACTORY_URL_PLACEHOLDER:
            print(f"note: {name} has no factory API URL yet; after `zappa deploy "
                  f"{name.replace('consumers', 'factory')}` run this again with "
                  "--factory-api-url auto")
    return 0


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` in one rename: a reader sees the old file or the new one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def _ensure_ca_bundle() -> bool:
    """The database URLs name the RDS CA bundle: make sure the package will hold it."""
    try:
        path, fetched = rds_ca.ensure()
    except (OSError, rds_ca.BundleError) as exc:
        print(f"error: no RDS CA bundle at {rds_ca.RDS_CA_BUNDLE} ({exc}); fetch it with "
              f"`python -m deploy.rds_ca` or install a copy with `--from FILE`", file=sys.stderr)
        return False
    print(f"{'fetched' if fetched else 'using'} {path} (the RDS CAs the functions verify their "
          "databases with)")
    return True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
