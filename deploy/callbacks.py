"""Zappa's callbacks (`callbacks` in zappa_settings.json): what Zappa cannot say.

`post` (after `zappa deploy` and `zappa update`):
- Zappa 0.63 creates each SQS event source mapping with FunctionName, EventSourceArn, BatchSize,
  Enabled and MaximumBatchingWindowInSeconds only; it cannot set FunctionResponseTypes. Without
  `ReportBatchItemFailures` Lambda ignores the consumers' `{"batchItemFailures": [...]}` answer:
  a normal return counts as success for the whole batch and Lambda *deletes every message of it*,
  the failed ones included (Lambda's "Handling errors for an SQS event source"). So deploy.settings
  declares every mapping `enabled: false` (Zappa creates it disabled, and on `update` sets it
  disabled again), and this callback sets ReportBatchItemFailures and Enabled=True in one
  UpdateEventSourceMapping call. A mapping is never enabled without the setting; if this callback
  never runs (a failed deploy), the mappings stay disabled and the messages wait in their queues.
- Zappa cannot set ScalingConfig either: the same update sets each mapping's MaximumConcurrency
  from the stage's `sqs_maximum_concurrency` ({queue ARN: n}, written by deploy.settings from
  deploy/capacity.py), so a function's mappings never ask for more containers than its reserved
  concurrency (`lambda_concurrency`) allows: Lambda would throttle them, and a throttled batch
  returns to its queue and counts toward maxReceiveCount (docs/capacity.md).
- Stages with IAM authorization (the factory) have Zappa's unsigned `touch` off (it would get 403):
  this callback makes a SigV4-signed GET of the touch path instead, before enabling anything.
- It fails the command when a mapping the settings declare is missing (Zappa only logs that).

`zip` (after Zappa writes the zip, before it uploads it; `zappa package` too): `finish_package` adds
the bytecode Zappa leaves out (deploy/bytecode.py: without it every cold start compiles every
module from source on Lambda's read-only /var/task), then refuses a zip that holds dev or test
tools, is too large, lacks its CA bundle or holds a shared object too new for Lambda's glibc.

Zappa calls `post_deploy(zappa_cli)` and `finish_package(zappa_cli)` with its ZappaCLI instance.
It loads this file by path as a top-level module, so it imports nothing from this project.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the stubs (requirements/dev.txt) are not in the Lambda package
    from types_boto3_lambda import LambdaClient
    from types_boto3_lambda.type_defs import (
        EventSourceMappingConfigurationResponseTypeDef,
        EventSourceMappingConfigurationTypeDef,
        ListEventSourceMappingsRequestTypeDef,
        UpdateEventSourceMappingRequestTypeDef,
    )

    # An event source mapping as listed, or as get_event_source_mapping answers it (every key)
    SourceMapping = (EventSourceMappingConfigurationTypeDef
                     | EventSourceMappingConfigurationResponseTypeDef)

REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
MAXIMUM_CONCURRENCY_KEY = "sqs_maximum_concurrency"  # deploy.settings.SQS_MAXIMUM_CONCURRENCY_KEY
SETTLED_STATES = {"Enabled", "Disabled"}  # others (Creating, Updating, Enabling…) refuse updates
FACTORY_URL_PLACEHOLDER = "https://factory-api-url-not-set.invalid"  # as deploy.settings writes it
LAMBDA_TASK_ROOT = "/var/task"  # as deploy.rds_ca writes it into the database URLs


def _lambda_client(zappa_cli) -> LambdaClient:
    zappa = zappa_cli.zappa
    client = getattr(zappa, "lambda_client", None)
    return client if client is not None else zappa.boto_session.client("lambda")


def _is_sqs(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 2 and parts[2] == "sqs"


def sqs_mappings(client: LambdaClient,
                 function_name: str) -> list[EventSourceMappingConfigurationTypeDef]:
    mappings, marker = [], None
    while True:
        kwargs: ListEventSourceMappingsRequestTypeDef = {"FunctionName": function_name}
        if marker:
            kwargs["Marker"] = marker
        page = client.list_event_source_mappings(**kwargs)
        mappings += [m for m in page.get("EventSourceMappings", [])
                     if _is_sqs(m.get("EventSourceArn", ""))]
        marker = page.get("NextMarker")
        if not marker:
            return mappings


def _wait_until_settled(client: LambdaClient, mapping: SourceMapping, timeout: float,
                        sleep) -> SourceMapping:
    deadline = time.monotonic() + timeout
    delay = 1.0
    while mapping.get("State", "Enabled") not in SETTLED_STATES:
        if time.monotonic() >= deadline:
            raise RuntimeError(f"event source mapping {mapping['UUID']} stayed "
                               f"{mapping.get('State')!r}")
        sleep(delay)
        delay = min(delay * 2, 10.0)
        mapping = client.get_event_source_mapping(UUID=mapping["UUID"])
    return mapping


def enable_partial_batch_responses(zappa_cli, *, timeout: float = 300.0,
                                   sleep=time.sleep) -> list[str]:
    """Turn on ReportBatchItemFailures, set MaximumConcurrency and enable every SQS mapping of the
    deployed function, all in one update per mapping. Returns the ARNs of the queues whose mapping
    was changed (empty when all were already as declared)."""
    client = _lambda_client(zappa_cli)
    function_name = zappa_cli.lambda_name
    # By ARN, as Zappa creates and looks up its mappings (some implementations match names exactly).
    function_arn = client.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    mappings = sqs_mappings(client, function_arn)

    declared = {event["event_source"]["arn"]
                for event in (zappa_cli.stage_config.get("events") or [])
                if _is_sqs((event.get("event_source") or {}).get("arn", ""))}
    missing = declared - {m["EventSourceArn"] for m in mappings}
    if missing:
        raise RuntimeError(f"{function_name} has no event source mapping for {sorted(missing)}: "
                           "Zappa could not create it (see its log above; often the role lacks "
                           "sqs:ReceiveMessage or the queue's visibility timeout is shorter than "
                           "the function's timeout)")

    concurrency = zappa_cli.stage_config.get(MAXIMUM_CONCURRENCY_KEY) or {}
    changed = []
    for listed in mappings:
        mapping = _wait_until_settled(client, listed, timeout, sleep)
        reports = REPORT_BATCH_ITEM_FAILURES in (mapping.get("FunctionResponseTypes") or [])
        wanted = concurrency.get(listed["EventSourceArn"])
        scaled = wanted is None or (
            (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency") == wanted)
        if reports and scaled and mapping.get("State") == "Enabled":
            continue
        # One call: the mapping goes live already reporting partial batch failures and capped.
        update: UpdateEventSourceMappingRequestTypeDef = {
            "UUID": listed["UUID"], "FunctionResponseTypes": [REPORT_BATCH_ITEM_FAILURES],
            "Enabled": True}
        if wanted is not None:
            update["ScalingConfig"] = {"MaximumConcurrency": wanted}
        client.update_event_source_mapping(**update)
        changed.append(listed["EventSourceArn"])
    return changed


def signed_touch(zappa_cli, *, get=None) -> int:
    """GET the stage's touch path signed with SigV4 (service execute-api) with the deploying
    credentials, as Zappa's `touch` would unsigned; raise unless it answers 200."""
    from urllib.parse import urlsplit

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    zappa = zappa_cli.zappa
    url = zappa.get_api_url(zappa_cli.lambda_name, zappa_cli.api_stage)
    if not url:
        raise RuntimeError(f"no API Gateway URL for {zappa_cli.lambda_name}")
    url = url.rstrip("/") + zappa_cli.stage_config.get("touch_path", "/")
    credentials = zappa.boto_session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign the health check with")
    region = zappa.boto_session.region_name or zappa_cli.stage_config.get("aws_region")
    request = AWSRequest(method="GET", url=url, headers={"Host": urlsplit(url).netloc})
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    if get is None:
        import requests
        get = requests.get
    outcome = "no answer"
    for attempt in range(4):  # a new function's first (cold, in-VPC) start can take seconds
        try:
            response = get(url, headers=dict(request.headers.items()), timeout=30)
        except Exception as exc:  # noqa: BLE001 - any transport failure is a failed check
            outcome = f"failed ({exc.__class__.__name__}: {str(exc)[:200]})"
        else:
            if response.status_code == 200:
                return 200
            outcome = f"answered {response.status_code}, not 200"
        time.sleep(2 ** attempt)
    raise RuntimeError(f"signed GET {url} {outcome}: the factory stage is not healthy, or the "
                       "deploying identity may not execute-api:Invoke it; its SQS mappings stay "
                       "disabled until a `zappa update` passes this check (docs/deploy.md)")


def post_deploy(zappa_cli) -> None:
    """The `callbacks.post` entry point."""
    config = zappa_cli.stage_config
    if config.get("iam_authorization") and config.get("signed_touch", True):
        print(f"{zappa_cli.lambda_name}: signed GET {config.get('touch_path', '/')}: "
              f"{signed_touch(zappa_cli)}")
    changed = enable_partial_batch_responses(zappa_cli)
    for arn in changed:
        print(f"{zappa_cli.lambda_name}: ReportBatchItemFailures on, enabled: {arn}")
    url = (config.get("environment_variables") or {}).get("FACTORY_API_URL")
    if url == FACTORY_URL_PLACEHOLDER:
        print(f"WARNING: {zappa_cli.api_stage} has no factory API URL: its order consumer will "
              "fail and retry until you run `python -m deploy.settings ... --factory-api-url "
              f"auto` and `zappa update {zappa_cli.api_stage}` (docs/deploy.md)")


# --- `callbacks.zip`: add bytecode, then refuse a package carrying test or dev tools to AWS -------

# Ours is about 20 MiB, bytecode included (deploy/bytecode.py says what it costs and buys); Lambda's
# own limits are 50 MB zipped for a direct upload, 250 MB unzipped. Over 30 MiB, something that is
# no runtime dependency got in: refused. The budget the tests and the benchmark hold each stage to
# is 24 MiB (15 MiB before the bytecode).
MAX_PACKAGE_BYTES = 30 * 1024 * 1024
PACKAGE_BUDGET_BYTES = 24 * 1024 * 1024
FORBIDDEN_IN_PACKAGE = {"pytest", "_pytest", "moto", "tests", "bench", "terraform", "docs",
                        "local_stack", "xdist", "pluggy", "gunicorn", "hcl2", "checkov", "cfnlint",
                        "docker", "sympy", "networkx", "pydantic", "jsonschema",
                        ".pre-commit-config.yaml", "pyproject.toml", ".git", ".venv"}


def _sibling(stem: str):
    """deploy/<stem>.py, loaded by path as Zappa loads this file (no package import)."""
    import importlib.util
    import os
    import sys

    name = f"replenish_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{stem}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _is_shared_object(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.endswith(".so") or ".so." in base


def too_new_for_lambda(archive) -> dict[str, tuple[int, ...]]:
    """{member: glibc version} of every shared object in the zip that needs a glibc newer than
    Lambda's python3.11 runtime has (Amazon Linux 2: 2.26)."""
    elf = _sibling("elf_glibc")
    found = {}
    for name in archive.namelist():
        if _is_shared_object(name):
            data = archive.read(name)
            if data[:4] == b"\x7fELF":
                needed = elf.too_new(data)
                if needed:
                    found[name] = needed
    return found


def finish_package(zappa_cli) -> None:
    """The `callbacks.zip` entry point: Zappa calls it after writing the zip (zappa_settings.py
    included) and before any upload, for `zappa package`, `deploy` and `update` alike, with
    `zappa_cli.zip_path` naming the zip. Adds the bytecode (add_bytecode), then checks the result
    (check_package)."""
    add_bytecode(zappa_cli)
    check_package(zappa_cli)


def add_bytecode(zappa_cli) -> None:
    """Put an unchecked-hash `.pyc` of the runtime's Python next to every `.py` of the zip, so a
    cold start on Lambda's read-only /var/task imports bytecode instead of compiling every module
    (deploy/bytecode.py: why each choice, and the size it costs).
    Refuses when zappa runs on another Python than the stage's runtime."""
    import os
    import zipfile

    path = zappa_cli.zip_path
    if not zipfile.is_zipfile(path):  # slim_handler's project archive is a tarball
        print(f"{path}: not a zip: no bytecode added")
        return
    runtime = getattr(zappa_cli, "runtime", None) or zappa_cli.stage_config.get("runtime")
    bytecode = _sibling("bytecode")
    added, failed = bytecode.add_bytecode(path, runtime or bytecode.running_runtime())
    print(f"package {os.path.basename(path)}: {added} modules byte-compiled for "
          f"{bytecode.running_runtime()} (unchecked-hash .pyc)"
          + (f"; did not compile, left as source: {', '.join(failed)}" if failed else ""))


def check_package(zappa_cli) -> None:
    """Fail `zappa package/deploy/update` when the zip holds dev or test tools (it was built from
    the dev virtualenv, not a runtime-only one), is larger than expected, or lacks a CA bundle
    that a database URL of the stage names (every connection would then fail)."""
    import os
    import zipfile

    websocket = getattr(zappa_cli, "use_websocket", None)
    if websocket:
        raise RuntimeError(
            f"Zappa found `zappa.websocket` imported in {websocket!r} under the working directory "
            "and would add a WebSocket API: a virtualenv is inside the project (use a hidden "
            "directory, e.g. .venv-lambda, which Zappa's scan skips; docs/deploy.md step 3)")
    path = zappa_cli.zip_path
    size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        top = {name.split("/")[0] for name in names}
        bundles = {name: archive.read(name) if name in names else None
                   for name in _ca_bundles_named(zappa_cli.stage_config)}
        too_new = too_new_for_lambda(archive)
    if too_new:
        listed = ", ".join(f"{name} (GLIBC_{'.'.join(map(str, version))})"
                           for name, version in sorted(too_new.items()))
        raise RuntimeError(
            f"{path} holds shared objects Lambda's python3.11 runtime (glibc 2.26) cannot load: "
            f"{listed}. Build the package virtualenv with `make lambda-venv` (manylinux2014 "
            "wheels; docs/deploy.md step 3)")
    found = sorted(top & FORBIDDEN_IN_PACKAGE)
    if found or size > MAX_PACKAGE_BYTES:
        raise RuntimeError(
            f"{path} ({size / 2**20:.1f} MiB) holds {found or 'too much'}: build it from a "
            "virtualenv with requirements/runtime.txt only (docs/deploy.md, step 3)")
    for name, data in bundles.items():
        if not data or b"-----BEGIN CERTIFICATE-----" not in data:
            raise RuntimeError(
                f"{path} lacks the CA bundle {name} that the stage's database URLs name: run "
                "`python -m deploy.rds_ca` (docs/deploy.md, step 2), then package again")
    print(f"package {os.path.basename(path)}: {size / 2**20:.1f} MiB, no dev or test tools, "
          "no shared object newer than glibc 2.26"
          + "".join(f", {name}" for name in sorted(bundles)))


def _ca_bundles_named(stage_config: dict) -> set[str]:
    """The in-package paths of the CA files the stage's database URLs name
    (`ssl_ca=/var/task/…`)."""
    from urllib.parse import parse_qs, urlsplit

    found = set()
    for name, value in (stage_config.get("environment_variables") or {}).items():
        if name.endswith("_DATABASE_URL"):
            for ca in parse_qs(urlsplit(value).query).get("ssl_ca", []):
                found.add(ca.removeprefix(LAMBDA_TASK_ROOT + "/").lstrip("/"))
    return found
