locals {
  prefix = "eks-shop/${var.environment}"

  # The orders service's DocumentDB credentials are not here: DocumentDB manages that secret itself
  # (manage_master_user_password in modules/documentdb), as RDS does for PostgreSQL.
  secrets = {
    "gateway/redis-auth" = { service = "gateway", description = "AUTH token of the ElastiCache Redis replication group" }
    # No initial value: the first rotation (run immediately once a rotation Lambda is set) generates the key pair.
    "users/jwt-keys" = { service = "users", description = "JWT signing keys (JWKS) of the users service" }
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secrets

  name                    = "${local.prefix}/${each.key}"
  description             = each.value.description
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = merge(var.tags, { Service = each.value.service })
}

# The initial Redis AUTH token comes from Secrets Manager's own generator (GetRandomPassword) because no random
# provider is available. The data source yields a new value on every plan, so the version ignores later changes: the
# first value is written once and from then on the rotation Lambda owns it. The replication group reads its initial
# token from this version, so secret and store agree on creation. This token does pass through Terraform plan and
# state: the known exception of REQ-SECRETS-004 (ElastiCache has no managed-password option for AUTH tokens).
data "aws_secretsmanager_random_password" "redis_auth" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.this["gateway/redis-auth"].id
  secret_string = data.aws_secretsmanager_random_password.redis_auth.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_rotation" "this" {
  for_each = local.secrets

  secret_id           = aws_secretsmanager_secret.this[each.key].id
  rotation_lambda_arn = lookup(var.rotation_lambda_arns, each.key, null)
  # Secrets with an initial value rotate on schedule; jwt-keys rotates at once to create its first key pair.
  rotate_immediately = each.key == "users/jwt-keys" && contains(keys(var.rotation_lambda_arns), each.key)

  rotation_rules {
    automatically_after_days = var.rotation_days
  }

  depends_on = [aws_secretsmanager_secret_version.redis_auth]
}
