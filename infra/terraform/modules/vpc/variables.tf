variable "name" {
  description = "Name prefix for every network resource, e.g. eks-shop-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "cluster_name" {
  description = "EKS cluster name; subnets carry kubernetes.io/cluster/<cluster_name> so the load balancer controller discovers them."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR. Must be a /16: the tiers are carved as /24s at fixed offsets (public .1-.3, app .10-.12, data .20-.22), which gives the seed's 10.0.x.0/24 layout for 10.0.0.0/16, and the endpoint tier as three /27s in the /24 at .30."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(split("/", var.vpc_cidr)[1] == "16", false)
    error_message = "vpc_cidr must be a valid IPv4 CIDR with a /16 prefix, e.g. 10.0.0.0/16."
  }
}

variable "azs" {
  description = "Exactly three availability zone names; they are the for_each keys of every per-AZ resource."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3 && length(distinct(var.azs)) == 3
    error_message = "azs must list exactly three distinct availability zones (the platform is multi-AZ across 3 AZs)."
  }
}

variable "tier_offsets" {
  description = "Third-octet offset of the first /24 of each tier; AZ i gets offset + i."
  type        = object({ public = number, app = number, data = number })
  default     = { public = 1, app = 10, data = 20 }

  validation {
    condition     = alltrue([for v in values(var.tier_offsets) : v >= 0 && v <= 250])
    error_message = "tier_offsets values must be between 0 and 250 so that offset + 2 stays inside the /16."
  }
}

variable "endpoint_subnet_offset" {
  description = "Third octet of the /24 that holds the endpoint subnets, one /27 per AZ (AZ i gets the i-th /27: 10.0.30.0/27, 10.0.30.32/27, 10.0.30.64/27 by default). Only the interface VPC endpoints live there; it must not be the /24 of another tier."
  type        = number
  default     = 30

  validation {
    condition     = var.endpoint_subnet_offset >= 0 && var.endpoint_subnet_offset <= 255 && floor(var.endpoint_subnet_offset) == var.endpoint_subnet_offset
    error_message = "endpoint_subnet_offset must be a whole number between 0 and 255 (a /24 of the /16)."
  }
}

variable "nat_gateway_count" {
  description = "Number of NAT gateways: 3 = one per AZ (HA, staging/prod), 1 = a single shared NAT (dev cost saving)."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3], var.nat_gateway_count)
    error_message = "nat_gateway_count must be 1 (single NAT, dev) or 3 (one per AZ)."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints with private DNS, so nodes pull images, ship logs and metrics, read secrets and get IRSA credentials without crossing the NAT."
  type        = set(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "monitoring", "secretsmanager", "sts"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints entries must be bare service names such as ecr.api or sts."
  }
}

variable "flow_logs_kms_key_arn" {
  description = "ARN of the CMK (DataClass=logs) that encrypts the VPC flow log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.flow_logs_kms_key_arn))
    error_message = "flow_logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "flow_logs_retention_days" {
  description = "Retention of the VPC flow log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "tags" {
  description = "Extra tags for every resource (default_tags of the provider already carry Project/Environment/ManagedBy)."
  type        = map(string)
  default     = {}
}
