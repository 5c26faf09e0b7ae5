output "service_role_arns" {
  description = "IRSA role ARN per service (annotate the service account eks.amazonaws.com/role-arn with it)."
  value       = { for s in var.services : s => aws_iam_role.this["${var.cluster_name}-irsa-${s}"].arn }
}

output "addon_role_arns" {
  description = "IRSA role ARN per platform add-on."
  value       = { for a in keys(local.addons) : a => aws_iam_role.this["${var.cluster_name}-addon-${a}"].arn }
}

output "role_subjects" {
  description = "Role name => the single service account allowed to assume it (known at plan time; the trust JSON is not, because the issuer is)."
  value       = { for r, cfg in local.roles : r => "system:serviceaccount:${cfg.namespace}:${cfg.service_account}" }
}

output "ebs_csi_role_arn" {
  description = "Role of the EBS CSI controller (input of the eks module's aws-ebs-csi-driver add-on)."
  value       = aws_iam_role.this["${var.cluster_name}-addon-ebs-csi"].arn
}

output "schema_migrate_role_arn" {
  description = "Role of the schema migrate Jobs' service account ecommerce/schema-migrate (reads the PostgreSQL owner secret only)."
  value       = aws_iam_role.this["${var.cluster_name}-irsa-schema-migrate"].arn
}
