variable "environment" {
  description = "Environment name; part of every alias (alias/eks-shop-<environment>-<class>)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "data_classes" {
  description = "Data classes that get their own customer-managed key (docs/conventions.md)."
  type        = set(string)
  default     = ["eks", "rds", "elasticache", "documentdb", "secrets", "logs", "s3"]

  validation {
    condition     = alltrue([for c in var.data_classes : contains(["eks", "rds", "elasticache", "documentdb", "secrets", "logs", "s3"], c)])
    error_message = "data_classes may only contain eks, rds, elasticache, documentdb, secrets, logs, s3."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion completes."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "key_admin_arns" {
  description = "Extra IAM principals allowed to administer (not use) the keys. The account root is always a key administrator so IAM policies keep working."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.key_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", a))])
    error_message = "key_admin_arns must be IAM ARNs."
  }
}

variable "tags" {
  description = "Extra tags for every key."
  type        = map(string)
  default     = {}
}
