# Every rule is its own resource (aws_vpc_security_group_*_rule) so that each one is visible and checkable in the
# plan. Terraform removes the default allow-all egress of a new group, so a group with no egress rule sends nothing.
# No rule anywhere opens port 22: operators reach hosts through SSM Session Manager.

locals {
  groups = {
    alb        = "Internet-facing ALB: HTTPS and HTTP (redirect) from anywhere, out to the pods only"
    cluster    = "EKS control plane (additional group): API from the nodes"
    nodes      = "EKS worker nodes and their pods"
    postgresql = "RDS PostgreSQL: 5432 from the nodes only"
    redis      = "ElastiCache Redis: 6379 from the nodes only"
    documentdb = "DocumentDB: 27017 from the nodes only"
  }
}

resource "aws_security_group" "this" {
  for_each = local.groups

  name        = "${var.name}-${each.key}"
  description = each.value
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
  }
}

# --- ALB --------------------------------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "alb_public" {
  for_each = { https = 443, http = 80 }

  security_group_id = aws_security_group.this["alb"].id
  description       = "${upper(each.key)} from the internet (80 only redirects to 443)"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_nodes" {
  for_each = { for p in var.app_ports : tostring(p) => p }

  security_group_id            = aws_security_group.this["alb"].id
  description                  = "To pods on ${each.value} (target type ip)"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.this["nodes"].id
}

# --- control plane <-> nodes ------------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "cluster_from_nodes" {
  security_group_id            = aws_security_group.this["cluster"].id
  description                  = "Kubernetes API from the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.this["nodes"].id
}

resource "aws_vpc_security_group_egress_rule" "cluster_to_nodes" {
  security_group_id            = aws_security_group.this["cluster"].id
  description                  = "Kubelet and admission webhooks on the nodes"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 65535
  referenced_security_group_id = aws_security_group.this["nodes"].id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_cluster" {
  security_group_id            = aws_security_group.this["nodes"].id
  description                  = "Control plane to kubelet and webhooks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 65535
  referenced_security_group_id = aws_security_group.this["cluster"].id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_self" {
  security_group_id            = aws_security_group.this["nodes"].id
  description                  = "Pod-to-pod and node-to-node traffic (NetworkPolicies narrow it further)"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.this["nodes"].id
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_alb" {
  for_each = { for p in var.app_ports : tostring(p) => p }

  security_group_id            = aws_security_group.this["nodes"].id
  description                  = "ALB to pods on ${each.value}"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.this["alb"].id
}

# Nodes: anything inside the VPC (endpoints, Route 53 resolver, data stores, other nodes) and HTTPS out through
# the NAT (public registries, EKS API, AWS APIs without an endpoint). Nothing else leaves the VPC.
resource "aws_vpc_security_group_egress_rule" "nodes_vpc" {
  security_group_id = aws_security_group.this["nodes"].id
  description       = "Anything inside the VPC"
  ip_protocol       = "-1"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "nodes_https" {
  security_group_id = aws_security_group.this["nodes"].id
  description       = "HTTPS to the internet through the NAT"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- data stores: their port, from the nodes group, nothing else; no egress ---------------------------------------

resource "aws_vpc_security_group_ingress_rule" "database_from_nodes" {
  for_each = var.database_ports

  security_group_id            = aws_security_group.this[each.key].id
  description                  = "${each.key} from the EKS nodes only"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.this["nodes"].id
}
