output "secret_arns" {
  description = "Secret ARN per key (gateway/redis-auth, orders/documentdb, users/jwt-keys)."
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

output "documentdb_username" {
  description = "DocumentDB master user name."
  value       = var.documentdb_username
}

output "documentdb_password" {
  description = "Initial DocumentDB master password (input of the documentdb module)."
  value       = jsondecode(aws_secretsmanager_secret_version.documentdb.secret_string).password
  sensitive   = true
}
