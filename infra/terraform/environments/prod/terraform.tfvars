environment     = "prod"
region          = "us-east-1"
cluster_name    = "eks-ecommerce-prod"
cluster_version = "1.35"
vpc_cidr        = "10.0.0.0/16"

# Node group configuration (general-purpose t3.medium group): more headroom than dev
node_group_desired = 4
node_group_min     = 3
node_group_max     = 10

# Database configuration: larger classes allowed in prod
db_instance_class         = "db.r6g.large"
redis_node_type           = "cache.r6g.large"
documentdb_instance_class = "db.r6g.large"

# Tags (Project follows docs/conventions.md: eks-shop)
tags = {
  Environment = "prod"
  Project     = "eks-shop"
  ManagedBy   = "terraform"
}

# Beyond the seed: HA and protection
nat_gateway_count   = 3 # one per AZ
deletion_protection = true
# Private API endpoint only: operators come in through the bastion (SSM) or a VPN.
public_access_cidrs = []
domain_name         = "shop.eks-shop.example.com"
enable_bastion      = true
compute_node_group  = { min = 2, desired = 2, max = 5 }
spot_node_group     = { min = 0, desired = 2, max = 10 }
