output "secret_arns" {
  description = "Secret ARN per key (gateway/redis-auth, users/jwt-keys)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "secret_names" {
  description = "Secret name per key (eks-shop/<env>/<service>/<name>), known at plan time."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.name }
}

output "redis_auth_token" {
  description = "Initial Redis AUTH token (input of the elasticache module)."
  value       = aws_secretsmanager_secret_version.redis_auth.secret_string
  sensitive   = true
}
