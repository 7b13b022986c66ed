"""The connection budget (deploy/capacity.py, docs/capacity.md): the most connections the
functions can open to each database stay under its max_connections, with headroom, for the
instance class Terraform creates, and the Zappa settings reserve exactly what the model counts."""
from __future__ import annotations

import json

import pytest

from deploy import capacity
from deploy import settings as gen
from inventory_core.adapters.db import make_engine
from inventory_core.config import LAMBDA_POOL
from tests.infra.conftest import REPO, as_list, blocks, single_label_blocks

STAGES = [name for name in json.loads((REPO / "zappa_settings.json").read_text())
          if name != "base"]


def _instance_class(terraform_hcl) -> str:
    return single_label_blocks(terraform_hcl, "variable")["db_instance_class"]["default"]


def test_each_databases_connections_stay_under_its_budget(terraform_hcl):
    instance_class = _instance_class(terraform_hcl)
    assert instance_class == "db.t4g.micro"  # the smallest: if it fits here, it fits anywhere
    limit = capacity.max_connections(instance_class)
    assert 80 <= limit <= 90  # 1 GiB / 12582880 bytes: about 85, before RDS's own reserve
    by_database = capacity.connections_by_database()
    assert set(by_database) == {"shop", "factory"}
    for database, most in by_database.items():
        assert most <= capacity.budget(instance_class) < limit, (database, most)
    # Both databases are of the same class (terraform/databases.tf: one instance_class).
    assert by_database == {"shop": 40 + 20, "factory": 16}


def test_one_connection_per_container_as_the_functions_configure_it():
    assert capacity.CONNECTIONS_PER_CONTAINER == LAMBDA_POOL.most == 1


@pytest.mark.parametrize("stage", STAGES)
def test_zappa_reserves_what_the_model_counts(stage):
    from tests.deploy.conftest import stage_config
    config = stage_config(stage)
    service = stage.split("_")[0]
    assert config["lambda_concurrency"] == capacity.RESERVED_CONCURRENCY[service]
    mappings = [e["event_source"]["arn"] for e in config["events"] if "event_source" in e]
    caps = config.get(gen.SQS_MAXIMUM_CONCURRENCY_KEY, {})
    assert sorted(caps) == sorted(mappings)  # every mapping capped, and only those
    assert all(capacity.SQS_MINIMUM_CONCURRENCY <= n <= 1000 for n in caps.values())  # AWS's range
    # The mappings together never ask for more containers than the function may run: a throttled
    # batch returns to its queue and counts toward maxReceiveCount.
    assert sum(caps.values()) <= config["lambda_concurrency"]
    if service in gen.APP_FUNCTIONS:  # and an API function keeps most of them for its requests
        assert sum(caps.values()) <= config["lambda_concurrency"] // 2


def test_servers_close_a_retired_containers_connection_after_the_pools_recycle(terraform_hcl):
    [group] = [body for *_, body in blocks(terraform_hcl, "resource", "aws_db_parameter_group")]
    parameters = {p["name"]: p["value"] for p in as_list(group["parameter"])}
    engine = make_engine("mysql+pymysql://user@db.invalid:3306/shop")
    try:
        assert engine.pool._recycle < int(parameters["wait_timeout"]) <= 600
    finally:
        engine.dispose()
