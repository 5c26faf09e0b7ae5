output "vpc_id" {
  description = "VPC ID."
  value       = module.vpc.vpc_id
}

output "subnet_cidrs" {
  description = "Subnet CIDRs per tier per AZ."
  value       = module.vpc.subnet_cidrs
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "oidc_provider_arn" {
  description = "IRSA OIDC provider."
  value       = module.eks.oidc_provider_arn
}

output "service_role_arns" {
  description = "IRSA role per service (service account annotation)."
  value       = module.iam.service_role_arns
}

output "addon_role_arns" {
  description = "IRSA role per platform add-on."
  value       = module.iam.addon_role_arns
}

output "irsa_role_subjects" {
  description = "Role name => the one service account its trust allows (plan-time view of the trust policies)."
  value       = module.iam.role_subjects
}

output "alb_security_group_id" {
  description = "Security group for the ALB Ingress."
  value       = module.security_groups.alb_security_group_id
}

output "postgres_endpoint" {
  description = "RDS PostgreSQL endpoint (host:port)."
  value       = module.rds.endpoint
}

output "redis_configuration_endpoint" {
  description = "ElastiCache Redis cluster-mode configuration endpoint."
  value       = module.elasticache.configuration_endpoint
}

output "documentdb_endpoint" {
  description = "DocumentDB cluster endpoint."
  value       = module.documentdb.endpoint
}

output "documentdb_secret_arn" {
  description = "Secret DocumentDB manages for its master user (JSON: username, password): the orders ExternalSecret's key."
  value       = module.documentdb.master_user_secret_arn
}

output "secret_names" {
  description = "Secrets Manager names (eks-shop/<env>/<service>/<name>)."
  value       = module.secrets.secret_names
}

output "orders_bucket" {
  description = "Orders bucket name."
  value       = module.storage.bucket_name
}

output "ecr_repository_urls" {
  description = "ECR repository URL per service."
  value       = module.ecr.repository_urls
}

output "log_groups" {
  description = "Container Insights log groups."
  value       = module.observability.log_group_names
}

output "kms_aliases" {
  description = "KMS alias per data class."
  value       = module.kms.alias_names
}

output "certificate_arn" {
  description = "ACM certificate for the Ingress."
  value       = module.edge.certificate_arn
}

output "route53_zone_id" {
  description = "Public hosted zone (external-dns)."
  value       = module.edge.zone_id
}

output "bastion_instance_id" {
  description = "SSM-only bastion (null when disabled)."
  value       = module.edge.bastion_instance_id
}

output "rds_master_user_secret_arn" {
  description = "Secret RDS manages for the PostgreSQL master user (JSON: username, password): the key of the schema migrate Jobs' ExternalSecret (settings postgres_owner_secret_arn)."
  value       = module.rds.master_user_secret_arn
}
