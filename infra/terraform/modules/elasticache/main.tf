resource "aws_elasticache_subnet_group" "this" {
  name        = var.replication_group_id
  description = "Data-tier subnets of ${var.replication_group_id}"
  subnet_ids  = values(var.subnet_ids)
  tags        = var.tags
}

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.replication_group_id}-redis7-cluster"
  family      = "redis7"
  description = "${var.replication_group_id}: cluster mode"

  parameter {
    name  = "cluster-enabled"
    value = "yes"
  }

  tags = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.replication_group_id
  description          = "eks-shop gateway cache and sessions"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.this.name

  cluster_mode            = "enabled"
  num_node_groups         = var.num_node_groups
  replicas_per_node_group = var.replicas_per_node_group

  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = var.security_group_ids

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = var.auth_token

  snapshot_retention_limit   = var.snapshot_retention_limit
  snapshot_window            = "02:00-03:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade = true

  tags = var.tags

  lifecycle {
    # After creation the token belongs to the redis-auth rotation Lambda (it rotates the secret and the group's
    # AUTH token together); Terraform must not roll it back to the initial value.
    ignore_changes = [auth_token]
  }
}
