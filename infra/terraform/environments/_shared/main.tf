data "aws_caller_identity" "current" {}

locals {
  name = "eks-shop-${var.environment}"
  # The PostgreSQL instance; the IAM module scopes the schema migrate role to its master user secret by this name.
  rds_identifier = "${local.name}-postgres"

  # reference/architecture.yaml eks.node_groups; the seed's node_group_* variables size the general group.
  node_groups = {
    general = {
      instance_types = ["t3.medium"]
      capacity_type  = "ON_DEMAND"
      min_size       = var.node_group_min
      desired_size   = var.node_group_desired
      max_size       = var.node_group_max
    }
    compute = {
      instance_types = ["c5.large"]
      capacity_type  = "ON_DEMAND"
      min_size       = var.compute_node_group.min
      desired_size   = var.compute_node_group.desired
      max_size       = var.compute_node_group.max
      labels         = { "eks-shop/workload" = "cpu-intensive" }
    }
    # Same size (2 vCPU / 4 GiB) in every type, so the cluster-autoscaler's node template is right for all.
    spot = {
      instance_types = ["t3.medium", "t3a.medium", "t2.medium"]
      capacity_type  = "SPOT"
      min_size       = var.spot_node_group.min
      desired_size   = var.spot_node_group.desired
      max_size       = var.spot_node_group.max
    }
  }
}

module "kms" {
  source = "../../modules/kms"

  environment = var.environment
  # Short window outside prod so torn-down environments free their aliases quickly.
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

module "security_groups" {
  source = "../../modules/security-groups"

  name     = local.name
  vpc_id   = module.vpc.vpc_id
  vpc_cidr = var.vpc_cidr
}

module "eks" {
  source = "../../modules/eks"

  cluster_name                 = var.cluster_name
  cluster_version              = var.cluster_version
  subnet_ids                   = module.vpc.app_subnet_ids
  cluster_security_group_id    = module.security_groups.cluster_security_group_id
  node_security_group_id       = module.security_groups.nodes_security_group_id
  endpoint_public_access_cidrs = var.public_access_cidrs
  secrets_kms_key_arn          = module.kms.key_arns["eks"]
  logs_kms_key_arn             = module.kms.key_arns["logs"]
  log_retention_days           = var.log_retention_days
  node_groups                  = local.node_groups
  ebs_csi_role_arn             = module.iam.ebs_csi_role_arn
}

module "iam" {
  source = "../../modules/iam"

  cluster_name              = var.cluster_name
  environment               = var.environment
  oidc_provider_arn         = module.eks.oidc_provider_arn
  oidc_issuer_url           = module.eks.oidc_issuer_url
  rds_resource_id           = module.rds.resource_id
  rds_identifier            = local.rds_identifier
  orders_bucket_arn         = module.storage.bucket_arn
  route53_zone_arn          = module.edge.zone_arn
  fluent_bit_log_group_arns = [for k in ["application", "dataplane", "host"] : module.observability.log_group_arns[k]]
  ebs_kms_key_alias         = module.kms.alias_names["eks"]
  documentdb_secret_arn     = module.documentdb.master_user_secret_arn
}

module "secrets" {
  source = "../../modules/secrets"

  environment             = var.environment
  kms_key_arn             = module.kms.key_arns["secrets"]
  rotation_lambda_arns    = var.rotation_lambda_arns
  recovery_window_in_days = var.environment == "prod" ? 30 : 7
}

module "rds" {
  source = "../../modules/rds"

  identifier                = local.rds_identifier
  instance_class            = var.db_instance_class
  subnet_ids                = module.vpc.data_subnet_ids
  security_group_ids        = [module.security_groups.security_group_ids["postgresql"]]
  multi_az                  = true
  deletion_protection       = var.deletion_protection
  kms_key_arn               = module.kms.key_arns["rds"]
  master_secret_kms_key_arn = module.kms.key_arns["secrets"]
}

module "elasticache" {
  source = "../../modules/elasticache"

  replication_group_id    = "${local.name}-redis"
  node_type               = var.redis_node_type
  num_node_groups         = var.redis_shards
  replicas_per_node_group = var.redis_replicas_per_shard
  subnet_ids              = module.vpc.data_subnet_ids
  security_group_ids      = [module.security_groups.security_group_ids["redis"]]
  kms_key_arn             = module.kms.key_arns["elasticache"]
  auth_token              = module.secrets.redis_auth_token
}

module "documentdb" {
  source = "../../modules/documentdb"

  cluster_identifier  = "${local.name}-docdb"
  instance_class      = var.documentdb_instance_class
  subnet_ids          = module.vpc.data_subnet_ids
  security_group_ids  = [module.security_groups.security_group_ids["documentdb"]]
  deletion_protection = var.deletion_protection
  kms_key_arn         = module.kms.key_arns["documentdb"]
}

module "storage" {
  source = "../../modules/storage"

  # Account ID keeps the global bucket name unique per account.
  bucket_name   = "${local.name}-orders-${data.aws_caller_identity.current.account_id}"
  kms_key_arn   = module.kms.key_arns["s3"]
  force_destroy = !var.deletion_protection
}

module "ecr" {
  source = "../../modules/ecr"

  kms_key_arn = module.kms.key_arns["s3"]
}

module "observability" {
  source = "../../modules/observability"

  cluster_name      = var.cluster_name
  retention_in_days = var.log_retention_days
  kms_key_arn       = module.kms.key_arns["logs"]
}

module "edge" {
  source = "../../modules/edge"

  name              = local.name
  domain_name       = var.domain_name
  enable_bastion    = var.enable_bastion
  vpc_id            = module.vpc.vpc_id
  bastion_subnet_id = module.vpc.public_subnet_ids[var.availability_zones[0]]
  ebs_kms_key_arn   = module.kms.key_arns["eks"]
}
