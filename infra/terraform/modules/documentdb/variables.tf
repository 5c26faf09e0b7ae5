variable "cluster_identifier" {
  description = "Cluster identifier, e.g. eks-shop-dev-docdb."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,50}$", var.cluster_identifier))
    error_message = "cluster_identifier must start with a letter, lowercase letters/digits/hyphens, max 51."
  }
}

variable "subnet_ids" {
  description = "Data-tier subnet IDs keyed by AZ; one instance is placed in each AZ key."
  type        = map(string)

  validation {
    condition     = length(var.subnet_ids) == 3
    error_message = "subnet_ids must have exactly three AZs (1 primary + 2 replicas, one per AZ)."
  }
}

variable "security_group_ids" {
  description = "Security groups (the documentdb group: 27017 from the nodes only)."
  type        = list(string)
}

variable "engine_version" {
  description = "DocumentDB engine version (5.0.0, MongoDB 5.0 compatible)."
  type        = string
  default     = "5.0.0"

  validation {
    condition     = can(regex("^5\\.0\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be 5.0.x."
  }
}

variable "instance_class" {
  description = "Instance class of every instance."
  type        = string
  default     = "db.t3.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.<family>.<size>."
  }
}

variable "master_username" {
  description = "Master user name (stored with its password in the cluster's managed secret, master_user_secret_arn)."
  type        = string
  default     = "shop_admin"
}

variable "backup_retention_period" {
  description = "Days of continuous backup (point-in-time restore)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 7 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 7 and 35 days."
  }
}

variable "deletion_protection" {
  description = "Refuse deletion (prod); also keeps a final snapshot on destroy."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "CMK (DataClass=documentdb) for storage encryption."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
