# The two databases, each owned by one service (the shop never reads the factory's and vice versa).
# RDS MySQL 8.0, encrypted with the deployment's key, private, master password
# generated and rotated by RDS in Secrets Manager (manage_master_user_password): no password is
# ever in this code, in a variable or in the Terraform state.

locals {
  databases = {
    shop    = { db_name = "shop" }
    factory = { db_name = "factory" }
  }
}

resource "aws_db_subnet_group" "main" {
  name        = "${local.name_prefix}-db"
  description = "Private subnets of ${local.name_prefix}"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "mysql" {
  name        = "${local.name_prefix}-mysql80"
  family      = "mysql8.0"
  description = "${local.name_prefix}: MySQL 8.0 settings, UTC"

  # The servers refuse unencrypted connections. The functions connect with TLS and verify the
  # server's certificate and host name against the RDS CA bundle packaged with them
  # (`?ssl_ca=...` in their database URLs, written by deploy.settings; see deploy/rds_ca.py).
  parameter {
    name  = "require_secure_transport"
    value = var.db_require_tls ? "1" : "0"
  }

  parameter {
    name  = "time_zone"
    value = "UTC"
  }

  # A Lambda container that is retired without closing its connection leaves it open on the
  # server until wait_timeout (MySQL's default: 8 hours), and such connections count against
  # max_connections (docs/capacity.md). 5 minutes; the functions' pools recycle theirs at 280 s.
  parameter {
    name  = "wait_timeout"
    value = "300"
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.name_prefix}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "db" {
  for_each = local.databases

  identifier     = "${local.name_prefix}-${each.key}"
  engine         = "mysql"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  db_name        = each.value.db_name
  username       = var.db_master_username

  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.main.arn

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  multi_az               = local.is_prod
  parameter_group_name   = aws_db_parameter_group.mysql.name

  iam_database_authentication_enabled = var.db_iam_auth

  backup_retention_period   = local.is_prod ? var.db_backup_retention_days : 1
  backup_window             = "17:00-18:00" # UTC: 02:00-03:00 in Seoul
  maintenance_window        = "sun:18:30-sun:19:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = local.is_prod
  skip_final_snapshot       = !local.is_prod
  final_snapshot_identifier = local.is_prod ? "${local.name_prefix}-${each.key}-final" : null
  delete_automated_backups  = !local.is_prod

  auto_minor_version_upgrade      = true
  apply_immediately               = !local.is_prod
  enabled_cloudwatch_logs_exports = ["error", "slowquery"]
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring.arn

  performance_insights_enabled    = var.db_performance_insights
  performance_insights_kms_key_id = var.db_performance_insights ? aws_kms_key.main.arn : null

  tags = { Name = "${local.name_prefix}-${each.key}", Service = each.key }

  depends_on = [aws_iam_role_policy_attachment.rds_monitoring]
}
