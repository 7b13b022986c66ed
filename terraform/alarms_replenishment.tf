# Replenishment orders that will not complete by themselves (docs/events.md, the lifecycle), and
# completions that matched no order. The consumers write these metrics in CloudWatch's embedded
# metric format (inventory_core/adapters/metrics.py: one JSON line on stdout, which CloudWatch Logs
# turns into a metric without an API call), in this stack's namespace (metric_alarms.tf):
#   ReplenishmentsFailed    1 per order failed (requests used up, or the factory refused it)
#   ReplenishmentsStalled   every lifecycle check (each minute): open orders escalated as stalled
#   DeliveryAnomalies       1 per completion that changed no stock
# The dashboard shows the same counts. Each alarm mails the alarm topic (alarms.tf).

locals {
  # metrics_namespace: metric_alarms.tf
  replenishment_alarms = {
    failed = {
      metric      = "ReplenishmentsFailed"
      statistic   = "Sum"
      description = "A replenishment order failed: the factory never accepted it, or lost it, after every request. The operator was e-mailed; the item reorders at its next shortage. See the dashboard and the order queue's dead letters."
    }
    stalled = {
      metric      = "ReplenishmentsStalled"
      statistic   = "Maximum"
      description = "A replenishment order is overdue and stalled: produced but never received, or in production past the factory's own due time. Redrive its completion from the delivery queue's dead letters, or cancel it on the dashboard."
    }
    delivery_anomaly = {
      metric      = "DeliveryAnomalies"
      statistic   = "Sum"
      description = "A production completion matched no open replenishment order and changed no stock (unknown, ended or cancelled order, wrong item, over-delivery). See the dashboard's delivery anomalies."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "replenishment" {
  for_each = local.replenishment_alarms

  alarm_name          = "${local.name_prefix}-replenishment-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = local.metrics_namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # no failure, no stalled order, no anomaly: no data
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
