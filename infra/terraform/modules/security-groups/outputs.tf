output "security_group_ids" {
  description = "Security group ID per role: alb, cluster, nodes, postgresql, redis, documentdb."
  value       = { for k, g in aws_security_group.this : k => g.id }
}

output "alb_security_group_id" {
  description = "Security group for the internet-facing ALB (pass to the load balancer controller)."
  value       = aws_security_group.this["alb"].id
}

output "cluster_security_group_id" {
  description = "Additional control-plane security group."
  value       = aws_security_group.this["cluster"].id
}

output "nodes_security_group_id" {
  description = "Security group of the worker nodes (and their pods)."
  value       = aws_security_group.this["nodes"].id
}
