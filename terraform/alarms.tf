# A message in any dead-letter queue is an incident: alarm on the first one, to an encrypted topic
# (optionally mailed to var.alarm_email). The dead-letter consumer records and the admin API/CLI
# redrives; the alarm makes sure a person hears about it.

resource "aws_sns_topic" "alarms" {
  name              = "${local.name_prefix}-alarms"
  display_name      = "${local.name_prefix} alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "alarm_topic" {
  statement {
    sid    = "CloudWatchAlarmsPublish"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.name_prefix}-*"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarm_topic.json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Why these metrics (docs/deploy.md, "Alarms"): the dead-letter consumer receives and deletes what
# reaches a DLQ within seconds, so ApproximateNumberOfMessagesVisible, sampled once a minute,
# almost never sees it. NumberOfMessagesSent does not count what the redrive policy moves after
# maxReceiveCount either (AWS counts only SendMessage calls there). NumberOfMessagesReceived on the
# DLQ counts every arrival, as the dead-letter consumer's receive of it; the depth covers a
# dead-letter consumer that is not running (then nothing is received, and messages stand).
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = local.queues

  alarm_name          = "${each.value.dlq_name}-not-empty"
  alarm_description   = "Messages reached ${each.value.dlq_name}: ${each.key} messages failed ${each.value.max_receive_count} times, or a consumer dead-lettered them at once. Inspect and redrive them with the admin API/CLI or the dashboard."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "arrivals"
    expression  = "FILL(received, 0) + FILL(standing, 0)"
    label       = "messages received from or standing in ${each.value.dlq_name}"
    return_data = true
  }
  metric_query {
    id = "received"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "NumberOfMessagesReceived"
      dimensions  = { QueueName = aws_sqs_queue.dlq[each.key].name }
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id = "standing"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dlq[each.key].name }
      stat        = "Maximum"
      period      = 60
    }
  }
}

# Outbox rows the relays gave up on (OUTBOX_MAX_ATTEMPTS failed publishes: a deleted topic, a KMS
# or IAM mistake) wait for an operator; each service's sweep reports how many, every minute
# (metric OutboxParkedRows, consumers/outbox_sweep.py).
resource "aws_cloudwatch_metric_alarm" "outbox_parked" {
  for_each = toset(["shop", "factory"])

  alarm_name          = "${local.name_prefix}-${each.key}-outbox-parked"
  alarm_description   = "Events in the ${each.key} outbox could not be published after every attempt and are parked. Fix the cause (the last error is shown), then re-publish them: the shop dashboard, POST /admin/outbox/republish, or flask --app ${each.key}_api outbox republish --all."
  namespace           = local.metrics_namespace
  metric_name         = "OutboxParkedRows"
  dimensions          = { Service = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
