variable "environment" {
  description = "Deployment environment: dev or prod. prod turns on deletion protection, Multi-AZ and longer backups."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "ap-northeast-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as ap-northeast-2."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (topics, queues, roles, databases). Defaults to \"replenish-<environment>\"; it must match the NAME_PREFIX the functions run with."
  type        = string
  default     = null

  validation {
    # Lower case, starts with a letter, no "--", no trailing "-": valid in RDS identifiers, SQS/SNS and IAM names.
    condition     = var.name_prefix == null || (can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name_prefix)) && !strcontains(coalesce(var.name_prefix, "x"), "--"))
    error_message = "name_prefix must be 2-32 characters of a-z, 0-9 and single hyphens, start with a letter and not end with a hyphen."
  }
}

variable "ses_sender_email" {
  description = "E-mail address the notification consumer sends from. SES mails a verification link to it on apply."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.ses_sender_email))
    error_message = "ses_sender_email must be an e-mail address."
  }
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic (dead-letter queue alarms). Null: no subscription."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.alarm_email, "x@y.z")))
    error_message = "alarm_email must be an e-mail address or null."
  }
}

variable "operator_email" {
  description = "The operator's address (OPERATOR_EMAIL): anomaly and operational e-mails. Null: none are sent. In the SES sandbox it must be a verified identity (verify_recipient_identities)."
  type        = string
  default     = null

  validation {
    condition     = var.operator_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.operator_email, "x@y.z")))
    error_message = "operator_email must be an e-mail address or null."
  }
}

variable "ad_manager_email" {
  description = "The ad manager's address (AD_MANAGER_EMAIL): `deploy.tasks.prepare_shop` writes it over the sample data's ads@example.com, which can never receive mail (RFC 2606). Null: keep what the database holds."
  type        = string
  default     = null

  validation {
    condition     = var.ad_manager_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.ad_manager_email, "x@y.z")))
    error_message = "ad_manager_email must be an e-mail address or null."
  }
}

variable "factory_manager_emails" {
  description = "Factory id => its manager's address (FACTORY_MANAGER_EMAILS): `deploy.tasks.prepare_shop` writes them over the sample data's factoryN@example.com."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for id, email in var.factory_manager_emails : can(regex("^[0-9]+$", id)) && can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "factory_manager_emails must map factory ids (digits) to e-mail addresses."
  }
}

variable "verify_recipient_identities" {
  description = "Create an SES e-mail identity (a verification mail) for each recipient above. Needed while the account is in the SES sandbox, where SES accepts only verified recipients; off once it has production access."
  type        = bool
  default     = true
}

variable "ses_api_vpc_endpoint" {
  description = "Create an interface VPC endpoint for the SES API (com.amazonaws.<region>.email). Not every region has one: check with `aws ec2 describe-vpc-endpoint-services --service-names com.amazonaws.<region>.email` first. Off: the consumers reach SES through the NAT gateway (enable_nat_gateway)."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; the private subnets are /24s carved from it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 22
    error_message = "vpc_cidr must be an IPv4 CIDR block of /22 or larger."
  }
}

variable "enable_nat_gateway" {
  description = "Create one NAT gateway so functions in the VPC reach the internet. Needed for the order consumer's HTTPS call to the factory API's public API Gateway URL; AWS APIs are reached through VPC endpoints either way."
  type        = bool
  default     = true
}

variable "vpc_endpoint_services" {
  description = "AWS services reached through interface VPC endpoints (service name suffix after com.amazonaws.<region>.). The SES API endpoint has its own switch, ses_api_vpc_endpoint."
  type        = list(string)
  default     = ["sns", "sqs", "secretsmanager", "logs", "sts"]

  validation {
    condition     = alltrue([for s in var.vpc_endpoint_services : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "vpc_endpoint_services must be service name suffixes such as sqs or secretsmanager."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of both databases."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.t4g.micro."
  }
}

variable "db_engine_version" {
  description = "MySQL engine version (major.minor or a full version); 8.0 lets RDS pick the current minor."
  type        = string
  default     = "8.0"

  validation {
    condition     = can(regex("^8\\.0(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be MySQL 8.0 (\"8.0\" or \"8.0.x\")."
  }
}

variable "db_allocated_storage" {
  description = "Initial storage of each database in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 1000
    error_message = "db_allocated_storage must be between 20 and 1000 GiB."
  }
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling of each database in GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.db_max_allocated_storage >= 20 && var.db_max_allocated_storage <= 4000
    error_message = "db_max_allocated_storage must be between 20 and 4000 GiB."
  }
}

variable "db_master_username" {
  description = "Master user name of both databases. Its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "replenish_admin"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,15}$", var.db_master_username))
    error_message = "db_master_username must be 1-16 letters, digits or underscores, starting with a letter."
  }
}

variable "db_backup_retention_days" {
  description = "Automated backup retention in prod, in days (dev keeps 1 day)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_iam_auth" {
  description = "Enable IAM database authentication on both databases (the functions use the Secrets Manager password; IAM auth is for operators)."
  type        = bool
  default     = true
}

variable "db_require_tls" {
  description = "Set require_secure_transport on both databases: refuse unencrypted connections (the functions connect with TLS, verified against the packaged RDS CA bundle)."
  type        = bool
  default     = true
}

variable "db_performance_insights" {
  description = "Enable Performance Insights (not available on micro/small instance classes)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "factory_api_url" {
  description = "Base URL of the deployed factory API, known after `zappa deploy factory_<env>`; passed to the consumers as FACTORY_API_URL when set."
  type        = string
  default     = null

  validation {
    condition     = var.factory_api_url == null || can(regex("^https://", coalesce(var.factory_api_url, "https://x")))
    error_message = "factory_api_url must be an https:// URL or null."
  }
}

variable "production_seconds" {
  description = "Optional factory lead time override (PRODUCTION_SECONDS) for the factory service; null keeps each factory's own lead time."
  type        = number
  default     = null

  validation {
    condition     = var.production_seconds == null || coalesce(var.production_seconds, 0) >= 0
    error_message = "production_seconds must be zero or more."
  }
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "lead_time_alarm_factories" {
  description = "Factory names (the factories table's `name`) whose replenishment lead time is alarmed on (metric ReplenishmentLeadTime, dimension Factory)."
  type        = list(string)
  default     = ["Factory1", "Factory2"]
}

variable "lead_time_alarm_seconds" {
  description = "Alarm when a replenishment takes longer than this from request to restock."
  type        = number
  default     = 3600

  validation {
    condition     = var.lead_time_alarm_seconds > 0
    error_message = "lead_time_alarm_seconds must be positive."
  }
}
