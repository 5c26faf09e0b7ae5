output "log_group_names" {
  description = "Log group name per kind."
  value       = { for k, g in aws_cloudwatch_log_group.container_insights : k => g.name }
}

output "log_group_arns" {
  description = "Log group ARN per kind (without the :* suffix)."
  value       = { for k, g in aws_cloudwatch_log_group.container_insights : k => g.arn }
}
