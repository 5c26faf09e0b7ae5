data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# Created here rather than by fluent-bit/CloudWatch agent on first write, so retention and encryption are set
# (auto-created groups never expire and are unencrypted) and fluent-bit needs no logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "container_insights" {
  for_each = var.log_group_kinds

  name              = "/aws/containerinsights/${var.cluster_name}/${each.key}"
  retention_in_days = var.retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}
