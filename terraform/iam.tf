# One execution role per service, each allowed exactly what its code does:
#
#   shop       publishes replenishment-requested and stock-events (outbox relay); sends to the source
#              queues whose dead letters it redrives (the admin API); reads the shop DB secret
#   factory    publishes production-completed; sends to and consumes its production queue (lead time);
#              dead-letters permanent failures of that queue; reads the factory DB secret
#   consumers  consume order, delivery and notification queues and every DLQ (dead-letter consumer);
#              dead-letter their permanent failures at once; publish stock-events; send mail as the
#              SES sender; read the shop DB secret; call the factory's API (execute-api:Invoke,
#              SigV4-signed: the factory stages use IAM authorization)
#
# API Gateway (REST API, Zappa's default v1) invokes the shop and factory functions by *assuming the
# stage's role*: Zappa 0.63 (core.py create_and_setup_methods) sets every method integration's
# Credentials to the stage's role ARN and adds no resource-based Lambda permission. So those two
# roles also trust apigateway.amazonaws.com and may lambda:InvokeFunction their own function only
# (named as Zappa names it: slugify("<project_name>-<stage>")). Without this every request would be
# API Gateway's 500 "Invalid permissions on Lambda function".
#
# Logs and VPC networking come from the AWS managed policies AWSLambdaBasicExecutionRole (CloudWatch
# Logs: the seed's missing permission) and AWSLambdaVPCAccessExecutionRole (the ENI actions, which
# AWS only grants on "*"), so the inline policies below never need a wildcard.

locals {
  services = {
    shop = {
      description = "Shop API (Flask on Lambda) and its outbox relay"
      publishes   = ["replenishment_requested", "stock_events", "backorder_events"]
      consumes    = []
      # Redrive from a DLQ back to its source queue (dead_letters.redrive), for the queues whose
      # events the shop's own consumers handle. The factory's "production" queue is the factory's
      # private lead-time timer: a dead letter of it is redriven by an operator with the factory's
      # role (docs/deploy.md), never by the public-facing shop.
      sends_to = ["order", "delivery", "notification"]
      database = "shop"
      api      = true # behind API Gateway: trusted by it, invokes its own function
    }
    factory = {
      description = "Factory API (Flask on Lambda) and its production-due consumer"
      publishes   = ["production_completed"]
      consumes    = ["production"]
      sends_to    = ["production"]
      database    = "factory"
      api         = true
    }
    consumers = {
      description = "SQS consumers: order, delivery, notification and dead-letter"
      # A restock fills backorders (backorder_events), and opens the next order for those still
      # waiting (replenishment_requested).
      publishes = ["replenishment_requested", "stock_events", "backorder_events"]
      consumes  = ["order", "delivery", "notification"]
      sends_to  = []
      database  = "shop"
      api       = false
    }
  }

  # Zappa's function name of each API service's stage: slugify("stock-replenishment-shop_dev")
  # = "stock-replenishment-shop-dev" (zappa/cli.py: lambda_name).
  zappa_project_name = "stock-replenishment"
  function_names = {
    for key, svc in local.services : key => "${local.zappa_project_name}-${key}-${var.environment}"
  }
  function_arns = {
    for key, name in local.function_names :
    key => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${name}"
  }
  # The factory stage's API (its id is Zappa's, not known here): its stage name scopes the grant.
  factory_stage_name      = "factory_${var.environment}"
  factory_api_execute_arn = "arn:${local.partition}:execute-api:${local.region}:${local.account_id}:*/${local.factory_stage_name}/*/*"

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

# Lambda runs each function with its role; API Gateway assumes the API services' roles to invoke
# them (the integration's Credentials, see the top of this file). No aws:SourceArn/SourceAccount
# condition on API Gateway: its integration-role assumption is not documented to set them, and a
# condition it does not meet would break every request. Only a principal allowed iam:PassRole on
# the role in this account can name it as an integration's credentials.
data "aws_iam_policy_document" "service_assume" {
  for_each = local.services

  statement {
    sid     = each.value.api ? "LambdaAndApiGatewayAssumeRole" : "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = each.value.api ? ["apigateway.amazonaws.com", "lambda.amazonaws.com"] : ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each = local.services

  name               = "${local.name_prefix}-${each.key}"
  description        = "${local.name_prefix}: ${each.value.description}"
  assume_role_policy = data.aws_iam_policy_document.service_assume[each.key].json

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
    sid       = "ApiGatewayInvokesOwnFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arns.shop]
  }

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
    sid       = "ApiGatewayInvokesOwnFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arns.factory]
  }

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
    sid       = "CallFactoryApi"
    actions   = ["execute-api:Invoke"]
    resources = [local.factory_api_execute_arn]
  }

  # SES authorizes a send against every identity it involves: the sender's, and in the sandbox each
  # recipient's too. The code sends with ses:SendEmail only.
  statement {
    sid       = "SendMailAsSender"
    actions   = ["ses:SendEmail"]
    resources = local.ses_identity_arns
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
