# Variable names from the seed's "Review and Customize Variables" come first and keep their names exactly;
# the ones after them are what the modules additionally need.

variable "environment" {
  description = "Environment name."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region of the whole environment."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "cluster_name" {
  description = "EKS cluster name; docs/conventions.md fixes it to eks-ecommerce-<environment>."
  type        = string

  validation {
    condition     = var.cluster_name == "eks-ecommerce-${var.environment}"
    error_message = "cluster_name must be eks-ecommerce-<environment> (docs/conventions.md), e.g. eks-ecommerce-dev."
  }
}

variable "cluster_version" {
  description = "Kubernetes version of the EKS control plane: 1.29 or newer (the seed's floor), and in EKS standard support on the day it runs (reference/architecture.yaml eks.versions); the reference runs 1.35."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.cluster_version)) && try(tonumber(split(".", var.cluster_version)[1]) >= 29, false)
    error_message = "cluster_version must be 1.29 or newer, written as <major>.<minor>."
  }
}

variable "vpc_cidr" {
  description = "VPC CIDR (/16); tiers are carved as the seed's /24s."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(split("/", var.vpc_cidr)[1] == "16", false)
    error_message = "vpc_cidr must be a valid IPv4 /16 CIDR."
  }
}

variable "node_group_desired" {
  description = "Desired size of the general-purpose (t3.medium) managed node group."
  type        = number

  # The cross-variable rule lives here only: Terraform refuses validations that reference each other in a cycle,
  # and any min > max also breaks min <= desired <= max, so this one check catches every bad combination.

  validation {
    condition     = var.node_group_min <= var.node_group_desired && var.node_group_desired <= var.node_group_max
    error_message = "Node group sizes must satisfy node_group_min <= node_group_desired <= node_group_max; check node_group_min, node_group_desired and node_group_max."
  }
}

variable "node_group_min" {
  description = "Minimum size of the general-purpose managed node group."
  type        = number

  validation {
    condition     = var.node_group_min >= 1
    error_message = "node_group_min must be at least 1 (the general node group runs the cluster add-ons)."
  }
}

variable "node_group_max" {
  description = "Maximum size of the general-purpose managed node group."
  type        = number

  validation {
    condition     = var.node_group_max <= 100
    error_message = "node_group_max must be at most 100."
  }
}

variable "db_instance_class" {
  description = "RDS PostgreSQL instance class."
  type        = string
  default     = "db.t3.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.<family>.<size>, e.g. db.t3.medium."
  }
}

variable "redis_shards" {
  description = "Redis cluster-mode shards (node groups). The seed: 3."
  type        = number
  default     = 3

  validation {
    condition     = var.redis_shards >= 1 && var.redis_shards <= 10
    error_message = "redis_shards must be between 1 and 10."
  }
}

variable "redis_replicas_per_shard" {
  description = "Redis replicas per shard; at least 1 so that automatic failover and Multi-AZ work. The seed: 1."
  type        = number
  default     = 1

  validation {
    condition     = var.redis_replicas_per_shard >= 1 && var.redis_replicas_per_shard <= 5
    error_message = "redis_replicas_per_shard must be between 1 and 5 (automatic failover needs a replica)."
  }
}

variable "redis_node_type" {
  description = "ElastiCache Redis node type."
  type        = string
  default     = "cache.t3.medium"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.redis_node_type))
    error_message = "redis_node_type must look like cache.<family>.<size>, e.g. cache.t3.medium."
  }
}

variable "documentdb_instance_class" {
  description = "DocumentDB instance class."
  type        = string
  default     = "db.t3.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.documentdb_instance_class))
    error_message = "documentdb_instance_class must look like db.<family>.<size>, e.g. db.t3.medium."
  }
}

variable "tags" {
  description = "Tags for every taggable resource (provider default_tags). Project, Environment and ManagedBy are always set from docs/conventions.md and win over values given here."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------------------
# Beyond the seed's variables
# ---------------------------------------------------------------------------------------------------------------

variable "availability_zones" {
  description = "The three AZs (reference/architecture.yaml availability_zones)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]

  validation {
    condition     = length(var.availability_zones) == 3 && length(distinct(var.availability_zones)) == 3
    error_message = "availability_zones must list exactly three distinct AZs."
  }
}

variable "nat_gateway_count" {
  description = "1 = single shared NAT gateway (dev), 3 = one per AZ (staging, prod)."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3], var.nat_gateway_count)
    error_message = "nat_gateway_count must be 1 or 3."
  }
}

variable "deletion_protection" {
  description = "Deletion protection on RDS and DocumentDB (and final snapshots on destroy)."
  type        = bool
  default     = true
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint; empty = private endpoint only. 0.0.0.0/0 is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0") && alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must be valid CIDRs and must not contain 0.0.0.0/0."
  }
}

variable "domain_name" {
  description = "Public DNS domain of the storefront (Route 53 zone + ACM certificate)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as dev.shop.example.com."
  }
}

variable "enable_bastion" {
  description = "Create the SSM-only bastion instance in a public subnet."
  type        = bool
  default     = false
}

variable "compute_node_group" {
  description = "Sizes of the compute-optimised (c5.large) node group."
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 1, desired = 1, max = 5 }

  validation {
    condition     = var.compute_node_group.min <= var.compute_node_group.desired && var.compute_node_group.desired <= var.compute_node_group.max
    error_message = "compute_node_group must satisfy min <= desired <= max."
  }
}

variable "spot_node_group" {
  description = "Sizes of the spot node group (t3.medium, t3a.medium, t2.medium: 2 vCPU / 4 GiB each)."
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 0, desired = 2, max = 10 }

  validation {
    condition     = var.spot_node_group.min <= var.spot_node_group.desired && var.spot_node_group.desired <= var.spot_node_group.max
    error_message = "spot_node_group must satisfy min <= desired <= max."
  }
}

variable "rotation_lambda_arns" {
  description = "Rotation Lambda ARN per secret key (gateway/redis-auth, users/jwt-keys; DocumentDB rotates its managed master secret itself). Secrets without one still declare a 90-day rotation schedule; see infra/terraform/README.md."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group."
  type        = number
  default     = 30
}
