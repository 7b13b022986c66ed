# The operators' admin credential (issue 15): the shop's dashboard sign-in and admin API, and the
# factory's reads with buyers' names in full. Terraform makes the secret, never its value: an
# operator sets it, and rotates it, with `aws secretsmanager put-secret-value` (docs/deploy.md).
# The functions read it on first use and again every minute (inventory_core/adapters/secrets.py),
# so a rotation needs no deploy, and it signs every operator out.

resource "aws_secretsmanager_secret" "admin" {
  #checkov:skip=CKV2_AWS_57:An operator rotates it with put-secret-value (docs/deploy.md) and the functions take the new value within a minute; a rotation Lambda would add a function with network access for a random string.
  name                    = "${local.name_prefix}/admin-credential"
  description             = "${local.name_prefix}: admin credential of the operator dashboard and the admin API (ADMIN_SECRET_ARN)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = local.is_prod ? 30 : 0
}

# Read only, by the two services that check it (the consumers never do). Decrypting goes through
# each role's UseKeyForTopicsAndSecret statement (kms:ViaService secretsmanager) in iam.tf.
data "aws_iam_policy_document" "read_admin_credential" {
  statement {
    sid       = "ReadAdminCredential"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.admin.arn]
  }
}

resource "aws_iam_role_policy" "read_admin_credential" {
  for_each = toset(["shop", "factory"])

  name   = "${local.name_prefix}-${each.key}-admin-credential"
  role   = aws_iam_role.service[each.key].id
  policy = data.aws_iam_policy_document.read_admin_credential.json
}
