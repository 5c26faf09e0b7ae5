output "log_group_names" {
  description = "Log group name per kind."
  value       = { for k, g in aws_cloudwatch_log_group.container_insights : k => g.name }
}

output "log_group_arns" {
  description = "Log group ARN per kind (without the :* suffix), built from the names so it is known at plan time."
  value       = { for k, g in aws_cloudwatch_log_group.container_insights : k => "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${g.name}" }
}
