output "repository_urls" {
  description = "Repository URL per service."
  value       = { for s, r in aws_ecr_repository.this : s => r.repository_url }
}

output "repository_names" {
  description = "Repository name per service (eks-shop/<service>)."
  value       = { for s, r in aws_ecr_repository.this : s => r.name }
}
