# Shared values: the deployment's name prefix, its tags, the account it runs in and the topology.
#
# topology.json is inventory_core.topology.as_dict("PREFIX") written out (tests/infra/test_topology_sync.py
# fails when it drifts and prints the command that regenerates it). Its names carry the placeholder
# prefix "PREFIX-"; the physical name of every topic and queue is "<name_prefix>-<logical name>", the
# same rule inventory_core.topology.physical() applies.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first two zone names (sorted) are used (network.tf local.azs); a zone AWS adds later sorts after them and never changes the subnets.
  state = "available"
}

locals {
  name_prefix = coalesce(var.name_prefix, "replenish-${var.environment}")
  is_prod     = var.environment == "prod"
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  region      = var.region

  tags = merge(
    {
      Project     = "stock-replenishment"
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  topology             = jsondecode(file("${path.module}/topology.json"))
  topology_placeholder = "${local.topology.prefix}-"

  topics = {
    for key, topic in local.topology.topics : key => {
      name        = "${local.name_prefix}-${trimprefix(topic.name, local.topology_placeholder)}"
      description = topic.description
    }
  }

  queues = {
    for key, queue in local.topology.queues : key => {
      name               = "${local.name_prefix}-${trimprefix(queue.name, local.topology_placeholder)}"
      dlq_name           = "${local.name_prefix}-${trimprefix(queue.dlq_name, local.topology_placeholder)}"
      consumer           = queue.consumer
      max_receive_count  = queue.max_receive_count
      visibility_timeout = queue.visibility_timeout
      batch_size         = queue.batch_size
      batch_window       = queue.batch_window
      topics             = queue.topics
      description        = queue.description
    }
  }

  # Queues fed by SNS topics (the others, like the factory's production queue, get direct sends),
  # and one subscription per (queue, topic) pair.
  subscribed_queues = { for key, queue in local.queues : key => queue if length(queue.topics) > 0 }
  subscriptions = merge([
    for key, queue in local.subscribed_queues : {
      for topic in queue.topics : "${key}.${topic}" => { queue = key, topic = topic }
    }
  ]...)

  dlq_retention_seconds   = local.topology.dlq_retention_seconds
  queue_retention_seconds = local.topology.queue_retention_seconds
  dead_letter_consumer    = local.topology.dead_letter_consumer
}
