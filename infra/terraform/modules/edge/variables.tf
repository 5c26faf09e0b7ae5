variable "name" {
  description = "Name prefix, e.g. eks-shop-dev."
  type        = string
}

variable "domain_name" {
  description = "Public domain of the storefront; the zone is created here and the certificate covers it and *.<domain>."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as dev.shop.example.com."
  }
}

variable "enable_bastion" {
  description = "Create the SSM-only bastion."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "VPC of the bastion's security group."
  type        = string
}

variable "bastion_subnet_id" {
  description = "Public subnet of the bastion (seed: bastion hosts in the public subnets)."
  type        = string
}

variable "bastion_instance_type" {
  description = "Bastion instance type."
  type        = string
  default     = "t3.micro"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*\\.[a-z0-9]+$", var.bastion_instance_type))
    error_message = "bastion_instance_type must be an EC2 instance type such as t3.micro."
  }
}

variable "bastion_ami_ssm_parameter" {
  description = "Public SSM parameter holding the bastion AMI ID (Amazon Linux 2023 ships the SSM agent)."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

  validation {
    condition     = startswith(var.bastion_ami_ssm_parameter, "/aws/service/")
    error_message = "bastion_ami_ssm_parameter must be an AWS public parameter under /aws/service/."
  }
}

variable "ebs_kms_key_arn" {
  description = "CMK encrypting the bastion's root volume."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.ebs_kms_key_arn))
    error_message = "ebs_kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
