resource "aws_docdb_subnet_group" "this" {
  name        = var.cluster_identifier
  description = "Data-tier subnets of ${var.cluster_identifier}"
  subnet_ids  = values(var.subnet_ids)
  tags        = var.tags
}

resource "aws_docdb_cluster_parameter_group" "this" {
  name        = "${var.cluster_identifier}-docdb5"
  family      = "docdb5.0"
  description = "${var.cluster_identifier}: TLS required, audit and profiler logs"

  parameter {
    name  = "tls"
    value = "enabled"
  }

  parameter {
    name  = "audit_logs"
    value = "enabled"
  }

  parameter {
    name  = "profiler"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_docdb_cluster" "this" {
  cluster_identifier = var.cluster_identifier
  engine             = "docdb"
  engine_version     = var.engine_version
  port               = 27017

  # No password in Terraform plan or state: DocumentDB generates it, keeps it in a Secrets Manager secret of its own
  # (master_user_secret, JSON with username and password) and rotates it. The provider (hashicorp/aws 5.100) has no
  # master_user_secret_kms_key_id for DocumentDB, so that secret is encrypted with the AWS-managed aws/secretsmanager
  # key, not the "secrets" CMK (see infra/terraform/README.md).
  master_username             = var.master_username
  manage_master_user_password = true

  db_subnet_group_name            = aws_docdb_subnet_group.this.name
  db_cluster_parameter_group_name = aws_docdb_cluster_parameter_group.this.name
  vpc_security_group_ids          = var.security_group_ids

  storage_encrypted = true
  kms_key_id        = var.kms_key_arn

  enabled_cloudwatch_logs_exports = ["audit", "profiler"]

  backup_retention_period      = var.backup_retention_period
  preferred_backup_window      = "03:00-04:00"
  preferred_maintenance_window = "sun:04:30-sun:05:30"
  deletion_protection          = var.deletion_protection
  skip_final_snapshot          = !var.deletion_protection
  final_snapshot_identifier    = var.deletion_protection ? "${var.cluster_identifier}-final" : null

  tags = var.tags
}

# 1 primary + 2 replicas, one per AZ (keys are AZ names). DocumentDB picks the writer; the others are readers.
resource "aws_docdb_cluster_instance" "this" {
  for_each = var.subnet_ids

  identifier                 = "${var.cluster_identifier}-${each.key}"
  cluster_identifier         = aws_docdb_cluster.this.id
  instance_class             = var.instance_class
  availability_zone          = each.key
  auto_minor_version_upgrade = true

  tags = var.tags
}
