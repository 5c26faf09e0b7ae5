data "aws_caller_identity" "current" {}

locals {
  name = "eks-shop-${var.environment}"
}

module "kms" {
  source = "../../modules/kms"

  environment = var.environment
  # Short window in dev so torn-down environments free their aliases quickly.
  deletion_window_in_days = var.environment == "prod" ? 30 : 7
}

module "vpc" {
  source = "../../modules/vpc"

  name                     = local.name
  cluster_name             = var.cluster_name
  vpc_cidr                 = var.vpc_cidr
  azs                      = var.availability_zones
  nat_gateway_count        = var.nat_gateway_count
  flow_logs_kms_key_arn    = module.kms.key_arns["logs"]
  flow_logs_retention_days = var.log_retention_days
}
