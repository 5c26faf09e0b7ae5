variable "replication_group_id" {
  description = "Replication group ID, e.g. eks-shop-dev-redis."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.replication_group_id))
    error_message = "replication_group_id must start with a letter, lowercase letters/digits/hyphens, max 40."
  }
}

variable "subnet_ids" {
  description = "Data-tier subnet IDs keyed by AZ."
  type        = map(string)
}

variable "security_group_ids" {
  description = "Security groups (the redis group: 6379 from the nodes only)."
  type        = list(string)
}

variable "engine_version" {
  description = "Redis engine version (7.x)."
  type        = string
  default     = "7.1"

  validation {
    condition     = can(regex("^7\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be Redis 7.x."
  }
}

variable "node_type" {
  description = "Node type."
  type        = string
  default     = "cache.t3.medium"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must look like cache.<family>.<size>."
  }
}

variable "num_node_groups" {
  description = "Shards (cluster mode)."
  type        = number
  default     = 3

  validation {
    condition     = var.num_node_groups >= 1 && var.num_node_groups <= 500
    error_message = "num_node_groups must be between 1 and 500."
  }
}

variable "replicas_per_node_group" {
  description = "Replicas per shard; at least 1 so automatic failover and Multi-AZ work."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas_per_node_group >= 1 && var.replicas_per_node_group <= 5
    error_message = "replicas_per_node_group must be between 1 and 5."
  }
}

variable "kms_key_arn" {
  description = "CMK (DataClass=elasticache) for at-rest encryption."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "auth_token" {
  description = "Initial AUTH token: the value of the Secrets Manager secret eks-shop/<env>/gateway/redis-auth (secrets module)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.auth_token) >= 16 && length(var.auth_token) <= 128 && !can(regex("[@\"/ ]", var.auth_token))
    error_message = "auth_token must be 16-128 printable characters without @, \", / or spaces."
  }
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
