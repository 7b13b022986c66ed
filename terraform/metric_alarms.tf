# Alarms on the application's own metrics: CloudWatch embedded metric format records the functions
# write into their logs (inventory_core.adapters.metrics; docs/operability.md), extracted by
# CloudWatch Logs. One namespace per stack, so dev and prod never share a metric.

locals {
  metrics_namespace = "Replenishment/${local.name_prefix}"
}

# The dead-letter consumer drains every DLQ within seconds (it records each message in the shop
# database for the admin API/CLI), so the DLQ depth alarm (alarms.tf) may never see a message
# stand for a whole minute: this counts what it recorded, per source queue.
# It overlaps the per-DLQ alarm (dlq_not_empty, alarms.tf, which counts the consumer's receives
# too): one dead letter fires both. Left so on purpose: this one says the message was recorded
# and can be redriven; that one also fires when the dead-letter consumer is not running.
resource "aws_cloudwatch_metric_alarm" "dead_letters_recorded" {
  for_each = local.queues

  alarm_name          = "${each.value.name}-dead-letters-recorded"
  alarm_description   = "The dead-letter consumer recorded messages of ${each.value.name}: they failed and wait for an operator. List and redrive them with the admin API/CLI (flask --app shop_api dead-letters list)."
  namespace           = local.metrics_namespace
  metric_name         = "DeadLettersRecorded"
  dimensions          = { Queue = aws_sqs_queue.queue[each.key].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# A factory that takes far longer than it promises: the slowest replenishment fulfilled in an hour
# (requested -> restocked) against var.lead_time_alarm_seconds.
resource "aws_cloudwatch_metric_alarm" "replenishment_lead_time" {
  for_each = toset(var.lead_time_alarm_factories)

  alarm_name          = "${local.name_prefix}-lead-time-${lower(each.key)}"
  alarm_description   = "A replenishment from ${each.key} took more than ${var.lead_time_alarm_seconds} s from request to restock."
  namespace           = local.metrics_namespace
  metric_name         = "ReplenishmentLeadTime"
  dimensions          = { Factory = each.key }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lead_time_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
