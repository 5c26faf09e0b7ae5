variable "services" {
  description = "Services that get a repository eks-shop/<service>."
  type        = set(string)
  default     = ["frontend", "gateway", "catalog", "orders", "users"]

  validation {
    condition     = alltrue([for s in var.services : can(regex("^[a-z][a-z0-9-]+$", s))])
    error_message = "services must be lowercase names."
  }
}

variable "kms_key_arn" {
  description = "CMK encrypting the image layers (DataClass=s3: ECR stores layers as objects)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "keep_tagged_images" {
  description = "Tagged images kept per repository; older ones expire."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_tagged_images >= 5
    error_message = "keep_tagged_images must be at least 5 so rollbacks stay possible."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1
    error_message = "untagged_expiry_days must be at least 1."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
