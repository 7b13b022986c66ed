# One customer-managed key for the deployment: SNS topics, the databases' storage and master-user
# secrets, Performance Insights and the flow-log group. A CMK (not alias/aws/sns) because CloudWatch
# alarms can only publish to a topic whose key policy lets cloudwatch.amazonaws.com use the key, and
# AWS-managed keys' policies cannot be changed.

data "aws_iam_policy_document" "kms_key_policy" {
  #checkov:skip=CKV_AWS_109:A KMS key policy's Resource "*" means this key only; the account statement is the standard delegation to IAM and must include PutKeyPolicy or the key becomes unmanageable.
  #checkov:skip=CKV_AWS_111:A KMS key policy's Resource "*" means this key only; write actions are limited to the account root (IAM delegation) and to service principals, the latter with kms:EncryptionContext conditions where AWS supports them.
  #checkov:skip=CKV_AWS_356:AWS requires Resource "*" in key policies (it refers to the key the policy is attached to); every other policy names its resources.
  # Key policies name the key itself as Resource "*"; that is the one place the IAM tests allow it.
  statement {
    sid    = "AccountAdministersAndDelegatesToIam"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    # Every KMS action spelled out (no "kms:*"): administration plus use, so IAM policies in the
    # account can grant the functions exactly the use they need.
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListAliases",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListKeyRotations",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:RetireGrant",
      "kms:RevokeGrant",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]
  }

  statement {
    sid    = "CloudWatchAlarmsPublishToEncryptedTopic"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
  }

  statement {
    sid    = "CloudWatchLogsEncryptsFlowLogs"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/${local.name_prefix}/*"]
    }
  }
}

resource "aws_kms_key" "main" {
  description             = "${local.name_prefix}: SNS topics, RDS storage and secrets, flow logs"
  enable_key_rotation     = true
  deletion_window_in_days = local.is_prod ? 30 : 7
  policy                  = data.aws_iam_policy_document.kms_key_policy.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name_prefix}"
  target_key_id = aws_kms_key.main.key_id
}
