output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "The three availability zones, in order."
  value       = var.azs
}

output "subnet_cidrs" {
  description = "Planned CIDR of every subnet: tier => AZ => CIDR (known at plan time)."
  value       = local.subnet_cidrs
}

output "public_subnet_ids" {
  description = "Public subnet IDs keyed by AZ (load balancers, NAT gateways, bastion)."
  value       = { for az, s in aws_subnet.public : az => s.id }
}

output "app_subnet_ids" {
  description = "Application subnet IDs keyed by AZ (EKS nodes, Fargate pods)."
  value       = { for az, s in aws_subnet.app : az => s.id }
}

output "data_subnet_ids" {
  description = "Data subnet IDs keyed by AZ (RDS, ElastiCache, DocumentDB); no route leaves the VPC."
  value       = { for az, s in aws_subnet.data : az => s.id }
}

output "endpoint_subnet_ids" {
  description = "Endpoint subnet IDs keyed by AZ: the interface VPC endpoints and nothing else; no route leaves the VPC."
  value       = { for az, s in aws_subnet.endpoint : az => s.id }
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs keyed by AZ."
  value       = { for az, n in aws_nat_gateway.this : az => n.id }
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
