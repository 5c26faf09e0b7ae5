variable "identifier" {
  description = "DB instance identifier, e.g. eks-shop-dev-postgres."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.identifier))
    error_message = "identifier must start with a letter and contain lowercase letters, digits and hyphens (max 63)."
  }
}

variable "subnet_ids" {
  description = "Data-tier subnet IDs keyed by AZ."
  type        = map(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must span at least two AZs for Multi-AZ."
  }
}

variable "security_group_ids" {
  description = "Security groups of the instance (the postgresql group: 5432 from the nodes only)."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version; major 15 (the reference). A bare \"15\" lets RDS pick the current 15.x minor."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 15 (\"15\" or \"15.<minor>\")."
  }
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.t3.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.<family>.<size>."
  }
}

variable "allocated_storage" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 50

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 200
}

variable "database_name" {
  description = "Initial database (catalog); the users database is created by the users service's migrations on the same instance."
  type        = string
  default     = "catalog"
}

variable "master_username" {
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "shop_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && !contains(["admin", "postgres", "rdsadmin"], var.master_username)
    error_message = "master_username must be 1-16 lowercase letters/digits/underscores, not a reserved name."
  }
}

variable "multi_az" {
  description = "Synchronous standby in a second AZ."
  type        = bool
  default     = true
}

variable "backup_retention_period" {
  description = "Days of automated backups (seed: 7)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 7 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 7 and 35 days."
  }
}

variable "deletion_protection" {
  description = "Refuse deletion (prod). When true a final snapshot is also taken on destroy."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "CMK (DataClass=rds) for storage and Performance Insights."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "master_secret_kms_key_arn" {
  description = "CMK (DataClass=secrets) for the RDS-managed master user secret."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.master_secret_kms_key_arn))
    error_message = "master_secret_kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
