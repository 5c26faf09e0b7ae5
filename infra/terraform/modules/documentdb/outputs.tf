output "endpoint" {
  description = "Cluster (writer) endpoint."
  value       = aws_docdb_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Reader endpoint."
  value       = aws_docdb_cluster.this.reader_endpoint
}

output "port" {
  description = "DocumentDB port."
  value       = aws_docdb_cluster.this.port
}

output "instance_azs" {
  description = "Instance identifier => AZ."
  value       = { for az, i in aws_docdb_cluster_instance.this : i.identifier => az }
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret DocumentDB manages for the master user (JSON: username, password)."
  value       = aws_docdb_cluster.this.master_user_secret[0].secret_arn
}
