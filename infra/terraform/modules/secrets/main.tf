locals {
  prefix = "eks-shop/${var.environment}"

  secrets = {
    "gateway/redis-auth" = { service = "gateway", description = "AUTH token of the ElastiCache Redis replication group" }
    "orders/documentdb"  = { service = "orders", description = "DocumentDB credentials of the orders service" }
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

# Initial values come from Secrets Manager's own generator (GetRandomPassword) because no random provider is
# available. The data source yields a new value on every plan, so the versions ignore later changes: the first
# value is written once and from then on the rotation Lambdas own it. The data stores read their initial
# credential from these versions, so secret and store agree on creation.
data "aws_secretsmanager_random_password" "redis_auth" {
  password_length     = 64
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "documentdb" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.this["gateway/redis-auth"].id
  secret_string = data.aws_secretsmanager_random_password.redis_auth.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_version" "documentdb" {
  secret_id = aws_secretsmanager_secret.this["orders/documentdb"].id
  secret_string = jsonencode({
    engine   = "mongo"
    username = var.documentdb_username
    password = data.aws_secretsmanager_random_password.documentdb.random_password
    port     = 27017
  })

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

  depends_on = [aws_secretsmanager_secret_version.redis_auth, aws_secretsmanager_secret_version.documentdb]
}
