variable "cluster_name" {
  description = "EKS cluster name (eks-ecommerce-<env>)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and contain only letters, digits and hyphens (max 100)."
  }
}

variable "cluster_version" {
  description = "Kubernetes version: 1.29 or newer (the seed's floor), and in EKS standard support on the day it runs (reference/architecture.yaml eks.versions); the reference runs 1.35."
  type        = string
  default     = "1.35"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.cluster_version)) && try(tonumber(split(".", var.cluster_version)[1]) >= 29, false)
    error_message = "cluster_version must be 1.29 or newer, written as <major>.<minor>."
  }
}

variable "subnet_ids" {
  description = "App-tier subnet IDs keyed by AZ: control-plane ENIs, node groups and the Fargate profile."
  type        = map(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two AZs (EKS requires it; the platform uses three)."
  }
}

variable "cluster_security_group_id" {
  description = "Additional security group for the control plane."
  type        = string
}

variable "node_security_group_id" {
  description = "Security group of the worker nodes."
  type        = string
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint. Empty list disables the public endpoint. 0.0.0.0/0 is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0") && alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "endpoint_public_access_cidrs must be valid CIDRs and must not contain 0.0.0.0/0."
  }
}

variable "secrets_kms_key_arn" {
  description = "CMK (DataClass=eks) for envelope encryption of Kubernetes secrets and for node EBS volumes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  description = "CMK (DataClass=logs) for the control-plane log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the control-plane log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "cluster_log_types" {
  description = "Control-plane log types sent to CloudWatch; all five by default."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  validation {
    condition     = length(setsubtract(["api", "audit", "authenticator", "controllerManager", "scheduler"], var.cluster_log_types)) == 0
    error_message = "cluster_log_types must include all five: api, audit, authenticator, controllerManager, scheduler."
  }
}

variable "node_groups" {
  description = "Managed node groups. Spot groups must list several instance types of the same vCPU/memory so the autoscaler's estimates hold."
  type = map(object({
    instance_types = list(string)
    capacity_type  = string
    min_size       = number
    desired_size   = number
    max_size       = number
    disk_size_gib  = optional(number, 50)
    labels         = optional(map(string), {})
  }))
  default = {
    general = { instance_types = ["t3.medium"], capacity_type = "ON_DEMAND", min_size = 2, desired_size = 3, max_size = 10 }
    compute = { instance_types = ["c5.large"], capacity_type = "ON_DEMAND", min_size = 1, desired_size = 1, max_size = 5 }
    spot    = { instance_types = ["t3.medium", "t3a.medium", "t2.medium"], capacity_type = "SPOT", min_size = 0, desired_size = 2, max_size = 10 }
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : g.min_size <= g.desired_size && g.desired_size <= g.max_size && g.min_size >= 0])
    error_message = "Every node group must satisfy 0 <= min_size <= desired_size <= max_size."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : contains(["ON_DEMAND", "SPOT"], g.capacity_type)])
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : g.capacity_type != "SPOT" || length(g.instance_types) >= 2])
    error_message = "A SPOT node group needs at least two instance types (capacity diversification)."
  }
}

variable "fargate_profiles" {
  description = "Fargate profiles: name => selectors (namespace + labels). 'burst' runs stateless burst work."
  type = map(list(object({
    namespace = string
    labels    = optional(map(string), {})
  })))
  default = {
    burst = [{ namespace = "ecommerce", labels = { "eks-shop/compute" = "burst" } }]
  }
}

variable "addons" {
  description = "EKS managed add-ons and their versions (null = the default version for the cluster version)."
  type        = map(object({ version = optional(string) }))
  default = {
    vpc-cni            = {}
    coredns            = {}
    kube-proxy         = {}
    aws-ebs-csi-driver = {}
  }

  validation {
    condition     = alltrue([for a in ["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"] : contains(keys(var.addons), a)])
    error_message = "addons must include vpc-cni, coredns, kube-proxy and aws-ebs-csi-driver."
  }
}

variable "ebs_csi_role_arn" {
  description = "IRSA role of the EBS CSI controller (created by the iam module as <cluster>-addon-ebs-csi)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.ebs_csi_role_arn))
    error_message = "ebs_csi_role_arn must be an IAM role ARN."
  }
}

variable "oidc_thumbprints" {
  description = "Thumbprints for the IRSA OIDC provider. AWS no longer checks them for EKS issuers, but the API requires one; this is the well-known root CA thumbprint (no tls provider is used to fetch it)."
  type        = list(string)
  default     = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]

  validation {
    condition     = length(var.oidc_thumbprints) > 0 && alltrue([for t in var.oidc_thumbprints : can(regex("^[0-9a-f]{40}$", t))])
    error_message = "oidc_thumbprints must be one or more 40-character lowercase hex SHA-1 thumbprints."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
