"""The admin credential's place on AWS (issue 15), read from terraform/ and zappa_settings.json:
a KMS-encrypted secret with no value in Terraform, readable by the shop and factory roles only,
and named to exactly those two stages by ADMIN_SECRET_ARN."""
from __future__ import annotations

import json

from inventory_core import config
from tests.infra.conftest import REPO, blocks


def test_the_secret_is_encrypted_and_terraform_holds_no_value(terraform_hcl):
    [(_, _, _, secret)] = list(blocks(terraform_hcl, "resource", "aws_secretsmanager_secret"))
    assert secret["kms_key_id"] == "${aws_kms_key.main.arn}"
    assert not list(blocks(terraform_hcl, "resource", "aws_secretsmanager_secret_version"))


def test_only_the_shop_and_factory_roles_read_it(terraform_hcl):
    documents = {name: body for _, _, name, body in
                 blocks(terraform_hcl, "data", "aws_iam_policy_document")}
    [statement] = documents["read_admin_credential"]["statement"]
    assert statement["actions"] == ["secretsmanager:GetSecretValue"]
    assert statement["resources"] == ["${aws_secretsmanager_secret.admin.arn}"]
    readers = {name: body for _, _, name, body in blocks(terraform_hcl, "resource",
                                                         "aws_iam_role_policy")}
    grant = readers["read_admin_credential"]
    assert grant["for_each"] == '${toset(["shop", "factory"])}'
    assert grant["policy"] == "${data.aws_iam_policy_document.read_admin_credential.json}"
    others = [name for name, document in documents.items() if name != "read_admin_credential"
              and "aws_secretsmanager_secret.admin" in json.dumps(document)]
    assert others == []


def test_the_shop_and_factory_stages_name_it_and_nothing_holds_its_value():
    settings = json.loads((REPO / "zappa_settings.json").read_text())
    for stage, body in settings.items():
        if stage == "base":
            continue
        env = body["environment_variables"]
        named = config.ADMIN_SECRET_ARN in env
        assert named is (not stage.startswith("consumers")), stage
        if named:
            assert ":secretsmanager:" in env[config.ADMIN_SECRET_ARN]
        assert config.ADMIN_TOKEN not in env
