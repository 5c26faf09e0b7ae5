variable "environment" {
  description = "Environment; secrets are named eks-shop/<environment>/<service>/<name>."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "kms_key_arn" {
  description = "CMK (DataClass=secrets) encrypting every secret."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "rotation_days" {
  description = "Rotation interval (seed: every 90 days)."
  type        = number
  default     = 90

  validation {
    condition     = var.rotation_days >= 1 && var.rotation_days <= 90
    error_message = "rotation_days must be between 1 and 90 (the seed requires rotation at least every 90 days)."
  }
}

variable "rotation_lambda_arns" {
  description = "Rotation Lambda ARN per secret key (gateway/redis-auth, users/jwt-keys). The functions are deployed separately (AWS's published rotation template for Redis, the users service's key rotator for JWT keys); DocumentDB rotates its managed master secret itself. A secret without one still declares its 90-day schedule; AWS only rotates once the ARN is set."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.rotation_lambda_arns) : contains(["gateway/redis-auth", "users/jwt-keys"], k)])
    error_message = "rotation_lambda_arns keys must be gateway/redis-auth or users/jwt-keys (DocumentDB rotates its managed master secret itself)."
  }

  validation {
    condition     = alltrue([for a in values(var.rotation_lambda_arns) : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", a))])
    error_message = "rotation_lambda_arns values must be Lambda function ARNs (arn:aws:lambda:<region>:<account>:function:<name>)."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret stays recoverable."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
