environment     = "staging"
region          = "us-east-1"
cluster_name    = "eks-ecommerce-staging"
cluster_version = "1.35"
vpc_cidr        = "10.0.0.0/16"

# Node group configuration (general-purpose t3.medium group)
node_group_desired = 3
node_group_min     = 2
node_group_max     = 10

# Database configuration
db_instance_class         = "db.t3.medium"
redis_node_type           = "cache.t3.medium"
documentdb_instance_class = "db.t3.medium"

# Tags (Project follows docs/conventions.md: eks-shop)
tags = {
  Environment = "staging"
  Project     = "eks-shop"
  ManagedBy   = "terraform"
}

# Beyond the seed: production-like network, still disposable data
nat_gateway_count   = 3
deletion_protection = false
public_access_cidrs = ["203.0.113.0/24"]
domain_name         = "staging.eks-shop.example.com"
enable_bastion      = true
compute_node_group  = { min = 1, desired = 1, max = 5 }
spot_node_group     = { min = 0, desired = 2, max = 10 }
