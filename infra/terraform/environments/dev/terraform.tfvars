environment     = "dev"
region          = "us-east-1"
cluster_name    = "eks-ecommerce-dev"
cluster_version = "1.35"
vpc_cidr        = "10.0.0.0/16"

# Node group configuration (general-purpose t3.medium group)
node_group_desired = 3
node_group_min     = 2
node_group_max     = 10

# Database configuration
db_instance_class = "db.t3.medium"
redis_node_type   = "cache.t3.medium"
# The seed's dev estimate prices three Redis nodes: one shard with two replicas keeps failover and Multi-AZ.
redis_shards              = 1
redis_replicas_per_shard  = 2
documentdb_instance_class = "db.t3.medium"

# Tags (Project follows docs/conventions.md: eks-shop)
tags = {
  Environment = "dev"
  Project     = "eks-shop"
  ManagedBy   = "terraform"
}

# Beyond the seed: dev cost choices
nat_gateway_count   = 1     # seed: "Single NAT Gateway: Use one NAT Gateway in dev (not prod)"
deletion_protection = false # dev is disposable
public_access_cidrs = ["203.0.113.0/24"]
domain_name         = "dev.eks-shop.example.com"
enable_bastion      = true
# Spot-heavy: more spot capacity than the on-demand compute group, which stays at its floor.
compute_node_group = { min = 1, desired = 1, max = 3 }
spot_node_group    = { min = 1, desired = 1, max = 10 }
