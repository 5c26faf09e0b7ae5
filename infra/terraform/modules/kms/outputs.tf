output "key_arns" {
  description = "CMK ARN per data class."
  value       = { for c, k in aws_kms_key.this : c => k.arn }
}

output "key_ids" {
  description = "CMK key ID per data class."
  value       = { for c, k in aws_kms_key.this : c => k.key_id }
}

output "alias_names" {
  description = "Alias per data class (alias/eks-shop-<env>-<class>)."
  value       = { for c, a in aws_kms_alias.this : c => a.name }
}
