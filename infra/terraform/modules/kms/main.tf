data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  descriptions = {
    eks         = "EKS secrets envelope encryption, node and bastion EBS volumes"
    rds         = "RDS PostgreSQL storage and Performance Insights"
    elasticache = "ElastiCache Redis at-rest encryption"
    documentdb  = "DocumentDB storage"
    secrets     = "Secrets Manager secrets (incl. RDS managed master password)"
    logs        = "CloudWatch log groups (VPC flow logs, EKS control plane, Container Insights)"
    s3          = "S3 objects (orders bucket) and ECR images"
  }

  # Services that call KMS on behalf of a principal that is only granted the service action (e.g. an IRSA role
  # with secretsmanager:GetSecretValue only). Letting any principal of THIS account use the key through THAT
  # service keeps the IRSA policies exactly equal to reference/architecture.yaml (the AWS-managed keys work the
  # same way), while callers from other accounts or direct kms:Decrypt calls stay denied.
  via_service = {
    secrets = "secretsmanager.${local.region}.amazonaws.com"
    s3      = "s3.${local.region}.amazonaws.com"
  }
}

data "aws_iam_policy_document" "key" {
  for_each = var.data_classes

  # Account root: delegates key use to IAM policies in this account and prevents an unmanageable key.
  statement {
    sid       = "AccountRootFullAccess"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(var.key_admin_arns) > 0 ? [1] : []
    content {
      sid = "KeyAdministration"
      actions = [
        "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
        "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
      ]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = var.key_admin_arns
      }
    }
  }

  # CloudWatch Logs encrypts log groups itself; it may only use the key for log groups of this account.
  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "CloudWatchLogs"
      actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["logs.${local.region}.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
      }
    }
  }

  # Managed node groups launch through the Auto Scaling service-linked role, which must be able to use the key
  # that encrypts the launch template's EBS volumes.
  dynamic "statement" {
    for_each = each.key == "eks" ? [1] : []
    content {
      sid       = "AutoScalingEbs"
      actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "eks" ? [1] : []
    content {
      sid       = "AutoScalingEbsGrant"
      actions   = ["kms:CreateGrant"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
      }
      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }
    }
  }

  dynamic "statement" {
    for_each = contains(keys(local.via_service), each.key) ? [1] : []
    content {
      sid       = "UseThroughServiceFromThisAccount"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.via_service[each.key]]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  for_each = var.data_classes

  description             = "eks-shop ${var.environment} ${each.key}: ${local.descriptions[each.key]}"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key[each.key].json

  tags = merge(var.tags, { DataClass = each.key, Name = "eks-shop-${var.environment}-${each.key}" })
}

resource "aws_kms_alias" "this" {
  for_each = var.data_classes

  name          = "alias/eks-shop-${var.environment}-${each.key}"
  target_key_id = aws_kms_key.this[each.key].key_id
}
