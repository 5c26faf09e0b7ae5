variable "name" {
  description = "Name prefix, e.g. eks-shop-dev."
  type        = string
}

variable "vpc_id" {
  description = "VPC the groups belong to."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR; nodes may talk to anything inside the VPC (endpoints, DNS resolver, load balancers)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR."
  }
}

variable "app_ports" {
  description = "Container ports the load balancer forwards to (frontend 8080, gateway 8000)."
  type        = set(number)
  default     = [8080, 8000]

  validation {
    condition     = alltrue([for p in var.app_ports : p > 1024 && p < 65536]) && !contains(var.app_ports, 22)
    error_message = "app_ports must be unprivileged ports (1025-65535); SSH is never exposed."
  }
}

variable "database_ports" {
  description = "Port of each data store; its group accepts only the node group on that port."
  type        = object({ postgresql = number, redis = number, documentdb = number })
  default     = { postgresql = 5432, redis = 6379, documentdb = 27017 }

  validation {
    condition     = alltrue([for p in values(var.database_ports) : p > 1024 && p < 65536])
    error_message = "database_ports must be between 1025 and 65535."
  }
}

variable "tags" {
  description = "Extra tags for every group."
  type        = map(string)
  default     = {}
}
