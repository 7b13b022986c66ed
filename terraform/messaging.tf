# SNS topics and SQS queues, every name and number from topology.json (inventory_core.topology).
#
# Each queue has its own dead-letter queue; after the topology's max_receive_count failed receives
# a message moves there instead of blocking the queue. DLQs keep messages for the topology's
# dlq_retention_seconds (14 days), longer than any source queue, so nothing expires in the DLQ
# before it expired in the source. SNS delivers raw (the JSON envelope itself is the SQS body).

resource "aws_sns_topic" "event" {
  for_each = local.topics

  name              = each.value.name
  display_name      = each.key
  kms_master_key_id = aws_kms_key.main.arn

  tags = { Topology = each.key }
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                      = each.value.dlq_name
  message_retention_seconds = local.dlq_retention_seconds
  # the dead-letter consumer reads DLQs: >= 6x its Lambda timeout, like the source queues
  visibility_timeout_seconds = each.value.visibility_timeout
  sqs_managed_sse_enabled    = true

  tags = { Topology = each.key, Role = "dead-letter" }
}

resource "aws_sqs_queue" "queue" {
  for_each = local.queues

  name                       = each.value.name
  visibility_timeout_seconds = each.value.visibility_timeout
  message_retention_seconds  = local.queue_retention_seconds
  receive_wait_time_seconds  = 20
  # SSE-SQS, not a KMS key: SNS delivers to SSE-SQS queues with no key grants to manage.
  sqs_managed_sse_enabled = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  tags = { Topology = each.key, Role = "source" }
}

# Each DLQ accepts dead letters only from its own source queue.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.queue[each.key].arn]
  })
}

resource "aws_sns_topic_subscription" "queue" {
  for_each = local.subscriptions

  topic_arn            = aws_sns_topic.event[each.value.topic].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.queue[each.value.queue].arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.subscribed]
}

# SNS may send to a queue only on behalf of the topics the queue subscribes to.
data "aws_iam_policy_document" "queue_from_topic" {
  for_each = local.subscribed_queues

  statement {
    sid    = "TopicDeliversToQueue"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue[each.key].arn]
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for topic in each.value.topics : aws_sns_topic.event[topic].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "subscribed" {
  for_each = local.subscribed_queues

  queue_url = aws_sqs_queue.queue[each.key].id
  policy    = data.aws_iam_policy_document.queue_from_topic[each.key].json
}
