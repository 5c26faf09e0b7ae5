data "aws_region" "current" {}

locals {
  tiers = ["public", "app", "data"]

  # One /24 per tier per AZ, keyed by AZ name so that adding/removing an AZ never renumbers the others.
  tier_subnet_cidrs = {
    for tier in local.tiers : tier => {
      for idx, az in var.azs : az => cidrsubnet(var.vpc_cidr, 8, var.tier_offsets[tier] + idx)
    }
  }

  # The endpoint tier: one /27 per AZ inside the /24 at endpoint_subnet_offset (10.0.30.0/27, .32/27, .64/27).
  endpoint_block = cidrsubnet(var.vpc_cidr, 8, var.endpoint_subnet_offset)
  subnet_cidrs = merge(local.tier_subnet_cidrs, {
    endpoint = { for idx, az in var.azs : az => cidrsubnet(local.endpoint_block, 3, idx) }
  })

  # The third octets the /24 tiers occupy; the endpoint block must be none of them.
  tier_octets = flatten([for tier in local.tiers : [for idx, _ in var.azs : var.tier_offsets[tier] + idx]])

  # NATs live in the first nat_gateway_count AZs; an app subnet uses the NAT of its own AZ when there is one,
  # else the first one (dev's single NAT).
  nat_azs = slice(var.azs, 0, var.nat_gateway_count)
  app_nat = { for az in var.azs : az => contains(local.nat_azs, az) ? az : local.nat_azs[0] }

  flow_log_group_name = "/aws/vpc/${var.name}/flow-logs"
}

resource "aws_vpc" "this" {
  cidr_block = var.vpc_cidr
  # Both are required for private DNS on interface endpoints and for EKS node registration.
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# Strip every rule from the default security group so nothing can be attached to it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-igw" })
}

# ---------------------------------------------------------------------------------------------------------------
# Subnets
# ---------------------------------------------------------------------------------------------------------------

resource "aws_subnet" "public" {
  for_each = local.subnet_cidrs.public

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value
  # Load balancers get their own addresses; instances here (the bastion) opt in explicitly.
  map_public_ip_on_launch = false

  tags = merge(var.tags, {
    Name                                        = "${var.name}-public-${each.key}"
    Tier                                        = "public"
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  })
}

resource "aws_subnet" "app" {
  for_each = local.subnet_cidrs.app

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value

  tags = merge(var.tags, {
    Name                                        = "${var.name}-app-${each.key}"
    Tier                                        = "app"
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  })
}

resource "aws_subnet" "data" {
  for_each = local.subnet_cidrs.data

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value

  tags = merge(var.tags, {
    Name = "${var.name}-data-${each.key}"
    Tier = "data"
  })
}

# Interface endpoint network interfaces only. Nothing runs here, so the pods' NetworkPolicies can open 443 to these
# subnets alone instead of to the app subnets, which hold every node and pod.
resource "aws_subnet" "endpoint" {
  for_each = local.subnet_cidrs.endpoint

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value

  tags = merge(var.tags, {
    Name = "${var.name}-endpoint-${each.key}"
    Tier = "endpoint"
  })

  lifecycle {
    precondition {
      condition     = !contains(local.tier_octets, var.endpoint_subnet_offset)
      error_message = "endpoint_subnet_offset ${var.endpoint_subnet_offset} is the /24 of a public, app or data subnet (third octets ${join(", ", local.tier_octets)}); pick a free one."
    }
  }
}

# ---------------------------------------------------------------------------------------------------------------
# NAT gateways
# ---------------------------------------------------------------------------------------------------------------

resource "aws_eip" "nat" {
  for_each = toset(local.nat_azs)

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat-${each.key}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local.nat_azs)

  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.public[each.key].id
  tags          = merge(var.tags, { Name = "${var.name}-nat-${each.key}" })

  depends_on = [aws_internet_gateway.this]
}

# ---------------------------------------------------------------------------------------------------------------
# Route tables: one per tier per AZ. public -> IGW, app -> NAT, data and endpoint -> no route out of the VPC at all.
# ---------------------------------------------------------------------------------------------------------------

resource "aws_route_table" "public" {
  for_each = toset(var.azs)

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public-${each.key}", Tier = "public" })
}

resource "aws_route" "public_internet" {
  for_each = aws_route_table.public

  route_table_id         = each.value.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  for_each = aws_subnet.public

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public[each.key].id
}

resource "aws_route_table" "app" {
  for_each = toset(var.azs)

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-app-${each.key}", Tier = "app" })
}

resource "aws_route" "app_nat" {
  for_each = aws_route_table.app

  route_table_id         = each.value.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[local.app_nat[each.key]].id
}

resource "aws_route_table_association" "app" {
  for_each = aws_subnet.app

  subnet_id      = each.value.id
  route_table_id = aws_route_table.app[each.key].id
}

resource "aws_route_table" "data" {
  for_each = toset(var.azs)

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-data-${each.key}", Tier = "data" })
}

resource "aws_route_table_association" "data" {
  for_each = aws_subnet.data

  subnet_id      = each.value.id
  route_table_id = aws_route_table.data[each.key].id
}

# Endpoint interfaces only answer connections; the VPC's local route carries the replies.
resource "aws_route_table" "endpoint" {
  for_each = toset(var.azs)

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-endpoint-${each.key}", Tier = "endpoint" })
}

resource "aws_route_table_association" "endpoint" {
  for_each = aws_subnet.endpoint

  subnet_id      = each.value.id
  route_table_id = aws_route_table.endpoint[each.key].id
}

# ---------------------------------------------------------------------------------------------------------------
# VPC endpoints
# ---------------------------------------------------------------------------------------------------------------

# S3 gateway endpoint: free, and ECR image layers are served from S3, so image pulls skip the NAT.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat([for rt in aws_route_table.app : rt.id], [for rt in aws_route_table.data : rt.id])

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

# HTTPS from the app subnets only, one rule per subnet: every caller of these APIs (nodes pulling images and
# shipping logs and metrics, pods getting IRSA credentials and secrets, Fargate pods) lives there. The public and
# data tiers get nothing: private DNS makes the whole VPC resolve these service names to the endpoints, so an
# instance added there that needs one of these APIs must be admitted here explicitly (a rule per subnet or group).
resource "aws_security_group" "endpoints" {
  name        = "${var.name}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS from the app subnets only"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-vpc-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  for_each = local.subnet_cidrs.app

  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the app subnet in ${each.key}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# In the endpoint subnets only, one interface per AZ, so that the NetworkPolicies' 443 egress names no pod or node.
resource "aws_vpc_endpoint" "interface" {
  for_each = var.interface_endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = [for s in aws_subnet.endpoint : s.id]
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# ---------------------------------------------------------------------------------------------------------------
# Flow logs -> KMS-encrypted CloudWatch log group
# ---------------------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = local.flow_log_group_name
  retention_in_days = var.flow_logs_retention_days
  kms_key_id        = var.flow_logs_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = var.tags
}

# Scoped to the one log group; the service needs the Describe calls on it to find its streams.
data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "flow-logs-to-cloudwatch"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 60

  tags = merge(var.tags, { Name = "${var.name}-flow-logs" })
}
