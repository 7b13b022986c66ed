# Everything the Zappa settings need. `terraform output -json` is the one source a tool reads;
# nothing here is a secret (database passwords stay in Secrets Manager; only their ARNs appear).

output "account_id" {
  description = "AWS account the stack is deployed in (AWS_ACCOUNT_ID)."
  value       = local.account_id
}

output "region" {
  description = "AWS region of the stack (Lambda sets AWS_REGION itself; Zappa's aws_region)."
  value       = local.region
}

output "name_prefix" {
  description = "Prefix of every physical name (NAME_PREFIX)."
  value       = local.name_prefix
}

output "environment" {
  description = "dev or prod."
  value       = var.environment
}

output "vpc_id" {
  description = "VPC of the functions and databases."
  value       = aws_vpc.main.id
}

output "private_subnet_ids" {
  description = "Private subnets for Zappa's vpc_config.SubnetIds."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_id" {
  description = "Security group for Zappa's vpc_config.SecurityGroupIds."
  value       = aws_security_group.lambda.id
}

output "role_names" {
  description = "Execution role name per service (Zappa role_name, with manage_roles false)."
  value       = { for key, role in aws_iam_role.service : key => role.name }
}

output "role_arns" {
  description = "Execution role ARN per service (Zappa role_arn)."
  value       = { for key, role in aws_iam_role.service : key => role.arn }
}

output "topic_arns" {
  description = "SNS topic ARN per topology topic key."
  value       = { for key, topic in aws_sns_topic.event : key => topic.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic the dead-letter queue alarms publish to."
  value       = aws_sns_topic.alarms.arn
}

output "queue_arns" {
  description = "SQS queue ARN per topology queue key (Zappa event_sources arn)."
  value       = { for key, queue in aws_sqs_queue.queue : key => queue.arn }
}

output "queue_urls" {
  description = "SQS queue URL per topology queue key."
  value       = { for key, queue in aws_sqs_queue.queue : key => queue.id }
}

output "dlq_arns" {
  description = "Dead-letter queue ARN per topology queue key (the dead-letter consumer's event sources)."
  value       = { for key, queue in aws_sqs_queue.dlq : key => queue.arn }
}

output "dlq_urls" {
  description = "Dead-letter queue URL per topology queue key."
  value       = { for key, queue in aws_sqs_queue.dlq : key => queue.id }
}

output "sqs_event_sources" {
  description = "Per queue key: the consumer function, its queue ARN and batching, from the topology; plus the dead-letter consumer's DLQ ARNs."
  value = {
    queues = {
      for key, queue in local.queues : key => {
        function     = queue.consumer
        arn          = aws_sqs_queue.queue[key].arn
        batch_size   = queue.batch_size
        batch_window = queue.batch_window
        service      = [for name, svc in local.services : name if contains(svc.consumes, key)][0]
      }
    }
    dead_letter = {
      function = local.dead_letter_consumer
      service  = "consumers"
      arns     = [for key in keys(local.queues) : aws_sqs_queue.dlq[key].arn]
    }
  }
}

output "database_hosts" {
  description = "Database host name per service database."
  value       = { for key, db in aws_db_instance.db : key => db.address }
}

output "database_endpoints" {
  description = "Database host:port per service database."
  value       = { for key, db in aws_db_instance.db : key => db.endpoint }
}

output "database_secret_arns" {
  description = "Secrets Manager ARN of each database's RDS-managed master user secret ({\"username\",\"password\"})."
  value       = { for key, db in aws_db_instance.db : key => db.master_user_secret[0].secret_arn }
}

output "database_urls" {
  description = "Password-less SQLAlchemy URL per database; the password comes from the secret at run time."
  value       = local.database_urls
}

output "admin_secret_arn" {
  description = "Secrets Manager ARN of the admin credential (ADMIN_SECRET_ARN of the shop and factory); put its value with `aws secretsmanager put-secret-value`."
  value       = aws_secretsmanager_secret.admin.arn
}

output "ses_sender_email" {
  description = "Verified SES sender (SES_SENDER)."
  value       = aws_ses_email_identity.sender.email
}

output "ses_identity_arn" {
  description = "ARN of the SES sender identity."
  value       = aws_ses_email_identity.sender.arn
}

output "kms_key_arn" {
  description = "Customer-managed key of the stack."
  value       = aws_kms_key.main.arn
}

locals {
  database_urls = {
    for key, db in aws_db_instance.db :
    key => "mysql+pymysql://${db.username}@${db.address}:${db.port}/${db.db_name}"
  }

  # AWS_REGION is left out on purpose: Lambda reserves it and sets it on every function.
  common_environment = {
    NAME_PREFIX       = local.name_prefix
    AWS_ACCOUNT_ID    = local.account_id
    METRICS_NAMESPACE = local.metrics_namespace # metric_alarms.tf alarms on this namespace
  }
  # Who is mailed (ses.tf): only the variables that are set; the rest keep the database's values.
  recipient_environment = merge(
    var.operator_email == null ? {} : { OPERATOR_EMAIL = var.operator_email },
    var.ad_manager_email == null ? {} : { AD_MANAGER_EMAIL = var.ad_manager_email },
    length(var.factory_manager_emails) == 0 ? {} : {
      FACTORY_MANAGER_EMAILS = join(",", [for id, email in var.factory_manager_emails : "${id}=${email}"])
    },
  )

  zappa_environment = {
    shop = merge(local.common_environment, local.recipient_environment, {
      SHOP_DATABASE_URL        = local.database_urls.shop
      SHOP_DATABASE_SECRET_ARN = aws_db_instance.db["shop"].master_user_secret[0].secret_arn
      ADMIN_SECRET_ARN         = aws_secretsmanager_secret.admin.arn
    })
    factory = merge(
      local.common_environment,
      {
        FACTORY_DATABASE_URL        = local.database_urls.factory
        FACTORY_DATABASE_SECRET_ARN = aws_db_instance.db["factory"].master_user_secret[0].secret_arn
        ADMIN_SECRET_ARN            = aws_secretsmanager_secret.admin.arn
        # the one role whose sessions may write (factory_api/auth.py), behind IAM authorization
        FACTORY_WRITER_ROLE_ARN = aws_iam_role.service["consumers"].arn
      },
      var.production_seconds == null ? {} : { PRODUCTION_SECONDS = tostring(var.production_seconds) },
    )
    consumers = merge(
      local.common_environment,
      local.recipient_environment,
      {
        SHOP_DATABASE_URL        = local.database_urls.shop
        SHOP_DATABASE_SECRET_ARN = aws_db_instance.db["shop"].master_user_secret[0].secret_arn
        SES_SENDER               = aws_ses_email_identity.sender.email
      },
      var.factory_api_url == null ? {} : { FACTORY_API_URL = var.factory_api_url },
    )
  }
}

output "zappa_environment" {
  description = "Per service (shop, factory, consumers): the environment_variables of its Zappa stages. Names are those of inventory_core.config; ADMIN_TOKEN is a secret and is never an output (ADMIN_SECRET_ARN names where it is)."
  value       = local.zappa_environment
}
