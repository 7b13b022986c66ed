# Alarms on the application's own metrics: CloudWatch embedded metric format records the functions
# write into their logs (inventory_core.adapters.metrics), extracted by CloudWatch Logs. One
# namespace per stack, so dev and prod never share a metric.

locals {
  metrics_namespace = "Replenishment/${local.name_prefix}"
}
