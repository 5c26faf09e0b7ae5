output "vpc_id" {
  description = "VPC ID."
  value       = module.vpc.vpc_id
}

output "subnet_cidrs" {
  description = "Subnet CIDRs per tier per AZ."
  value       = module.vpc.subnet_cidrs
}

output "kms_aliases" {
  description = "KMS alias per data class."
  value       = module.kms.alias_names
}
