# One execution role per service, each allowed exactly what its code does:
#
#   shop       publishes replenishment-requested and stock-events (outbox relay); sends to the source
#              queues (the admin API's dead-letter redrive); reads the shop DB secret
#   factory    publishes production-completed; sends to and consumes its production queue (lead time);
#              dead-letters permanent failures of that queue; reads the factory DB secret
#   consumers  consume order, delivery and notification queues and every DLQ (dead-letter consumer);
#              dead-letter their permanent failures at once; publish stock-events; send mail as the
#              SES sender; read the shop DB secret
#
# Logs and VPC networking come from the AWS managed policies AWSLambdaBasicExecutionRole (CloudWatch
# Logs: the seed's missing permission) and AWSLambdaVPCAccessExecutionRole (the ENI actions, which
# AWS only grants on "*"), so the inline policies below never need a wildcard.

locals {
  services = {
    shop = {
      description = "Shop API (Flask on Lambda) and its outbox relay"
      publishes   = ["replenishment_requested", "stock_events"]
      consumes    = []
      sends_to    = keys(local.queues) # redrive from a DLQ back to its source queue
      database    = "shop"
    }
    factory = {
      description = "Factory API (Flask on Lambda) and its production-due consumer"
      publishes   = ["production_completed"]
      consumes    = ["production"]
      sends_to    = ["production"]
      database    = "factory"
    }
    consumers = {
      description = "SQS consumers: order, delivery, notification and dead-letter"
      publishes   = ["stock_events"]
      consumes    = ["order", "delivery", "notification"]
      sends_to    = []
      database    = "shop"
    }
  }

  managed_policies = {
    basic = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    vpc   = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
  }

  service_managed_policies = {
    for pair in setproduct(keys(local.services), keys(local.managed_policies)) :
    "${pair[0]}-${pair[1]}" => { service = pair[0], policy_arn = local.managed_policies[pair[1]] }
  }

  consume_actions = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
  ]
  send_actions = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]

  kms_via_services = ["sns.${local.region}.amazonaws.com", "secretsmanager.${local.region}.amazonaws.com"]
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each = local.services

  name               = "${local.name_prefix}-${each.key}"
  description        = "${local.name_prefix}: ${each.value.description}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = { Service = each.key }
}

resource "aws_iam_role_policy_attachment" "service_managed" {
  for_each = local.service_managed_policies

  role       = aws_iam_role.service[each.value.service].name
  policy_arn = each.value.policy_arn
}

# --- shop ---

data "aws_iam_policy_document" "shop" {
  statement {
    sid       = "PublishOwnTopics"
    actions   = ["sns:Publish"]
    resources = [for key in local.services.shop.publishes : aws_sns_topic.event[key].arn]
  }

  statement {
    sid       = "RedriveToSourceQueues"
    actions   = local.send_actions
    resources = [for key in local.services.shop.sends_to : aws_sqs_queue.queue[key].arn]
  }

  statement {
    sid       = "ReadOwnDatabaseSecret"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.db[local.services.shop.database].master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "UseKeyForTopicsAndSecret"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }
}

# --- factory ---

data "aws_iam_policy_document" "factory" {
  statement {
    sid       = "PublishOwnTopics"
    actions   = ["sns:Publish"]
    resources = [for key in local.services.factory.publishes : aws_sns_topic.event[key].arn]
  }

  statement {
    sid       = "ConsumeOwnQueues"
    actions   = local.consume_actions
    resources = [for key in local.services.factory.consumes : aws_sqs_queue.queue[key].arn]
  }

  statement {
    sid       = "SendToOwnQueues"
    actions   = local.send_actions
    resources = [for key in local.services.factory.sends_to : aws_sqs_queue.queue[key].arn]
  }

  statement {
    sid       = "DeadLetterPermanentFailures"
    actions   = local.send_actions
    resources = [for key in local.services.factory.consumes : aws_sqs_queue.dlq[key].arn]
  }

  statement {
    sid       = "ReadOwnDatabaseSecret"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.db[local.services.factory.database].master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "UseKeyForTopicsAndSecret"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }
}

# --- consumers ---

data "aws_iam_policy_document" "consumers" {
  statement {
    sid       = "PublishOwnTopics"
    actions   = ["sns:Publish"]
    resources = [for key in local.services.consumers.publishes : aws_sns_topic.event[key].arn]
  }

  statement {
    sid       = "ConsumeOwnQueues"
    actions   = local.consume_actions
    resources = [for key in local.services.consumers.consumes : aws_sqs_queue.queue[key].arn]
  }

  statement {
    sid       = "ConsumeEveryDeadLetterQueue"
    actions   = local.consume_actions
    resources = [for key in keys(local.queues) : aws_sqs_queue.dlq[key].arn]
  }

  statement {
    sid       = "DeadLetterPermanentFailures"
    actions   = local.send_actions
    resources = [for key in local.services.consumers.consumes : aws_sqs_queue.dlq[key].arn]
  }

  statement {
    sid       = "SendMailAsSender"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [aws_ses_email_identity.sender.arn]
  }

  statement {
    sid       = "ReadOwnDatabaseSecret"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.db[local.services.consumers.database].master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "UseKeyForTopicsAndSecret"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }
}

resource "aws_iam_role_policy" "shop" {
  name   = "${local.name_prefix}-shop-least-privilege"
  role   = aws_iam_role.service["shop"].id
  policy = data.aws_iam_policy_document.shop.json
}

resource "aws_iam_role_policy" "factory" {
  name   = "${local.name_prefix}-factory-least-privilege"
  role   = aws_iam_role.service["factory"].id
  policy = data.aws_iam_policy_document.factory.json
}

resource "aws_iam_role_policy" "consumers" {
  name   = "${local.name_prefix}-consumers-least-privilege"
  role   = aws_iam_role.service["consumers"].id
  policy = data.aws_iam_policy_document.consumers.json
}
