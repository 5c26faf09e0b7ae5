variable "cluster_name" {
  description = "EKS cluster name; Container Insights groups are /aws/containerinsights/<cluster>/<kind>."
  type        = string
}

variable "log_group_kinds" {
  description = "Container Insights log groups to create (fluent-bit writes application, dataplane and host)."
  type        = set(string)
  default     = ["application", "dataplane", "host", "performance"]

  validation {
    condition     = contains(var.log_group_kinds, "application")
    error_message = "log_group_kinds must include application."
  }
}

variable "retention_in_days" {
  description = "Retention of every log group (reference: 30 days)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.retention_in_days)
    error_message = "retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "kms_key_arn" {
  description = "CMK (DataClass=logs)."
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
