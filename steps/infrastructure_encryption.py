"""Steps about encryption and secrets (features/encryption.feature, secrets.feature): one customer-managed key
per data class, each store and artifact encrypted with its key, TLS enforced, secrets rotated."""

from __future__ import annotations

import json

from pytest_bdd import parsers, then

from conformance.checks import expect_each, fail_if, select
from conformance.facts import Facts, Resource
from conformance.outcomes import Violation
from conformance.views.encryption import describe_key, key_class, kms_key
from conformance.views.iam import PolicyNotReadable, policy_statements
from reference import Architecture
from steps.infrastructure_data import (
    csv_items,
    expect_key,
    parameter_group,
    parameters_of,
    postgres_instances,
    redis_groups,
    truthy,
)

# --------------------------------------------------------------------------------------------------------- encryption


@then(parsers.parse('there is one KMS key per data class "{classes}"'))
def key_per_class(infra: Facts, classes: str) -> None:
    wanted = csv_items(classes)
    keys = select(infra, "aws_kms_key", what="customer-managed KMS keys")
    found: dict[str, list[str]] = {}
    for key in keys:
        found.setdefault(str(key.tags.get("DataClass")), []).append(key.address)
    violations = [Violation(f"<{c} key>", "DataClass", c, "missing") for c in wanted if c not in found]
    violations += [
        Violation(a, "DataClass", "one key per class", c)
        for c, addrs in found.items()
        if len(addrs) > 1 or c not in wanted
        for a in addrs
    ]
    fail_if(violations, "KMS keys are not one per data class")


@then("every KMS key has automatic key rotation enabled")
def key_rotation(infra: Facts) -> None:
    expect_each(select(infra, "aws_kms_key"), "enable_key_rotation", True)


@then("every KMS key has the alias of its data class")
def key_alias(infra: Facts) -> None:
    aliases = infra.of_type("aws_kms_alias")

    def alias_names(key: Resource) -> list[str]:
        return sorted(str(a.get("name")) for a in aliases if kms_key(infra, a.get("target_key_id")) is key)

    expect_each(
        select(infra, "aws_kms_key"),
        "alias",
        "alias/eks-shop-<env>-<DataClass>",
        read=alias_names,
        ok=lambda names: len(names) >= 1,
    )
    violations = [
        Violation(a.address, "name", f"alias/eks-shop-{infra.environment}-<DataClass>", a.get("name"))
        for a in aliases
        if (k := kms_key(infra, a.get("target_key_id"))) is not None
        and a.get("name") != f"alias/eks-shop-{infra.environment}-{k.tags.get('DataClass')}"
    ]
    fail_if(violations, "KMS aliases do not follow the convention")


@then(parsers.parse('every "{resource_type}" has "{flag}" with the "{data_class}" key in "{field}"'))
def encrypted_with(infra: Facts, resource_type: str, flag: str, data_class: str, field: str) -> None:
    resources = select(infra, resource_type)
    expect_each(resources, flag, True, ok=truthy)
    expect_key(infra, resources, field, data_class)


@then(parsers.parse('every PostgreSQL instance uses a parameter group with "{name}" set to "{value}"'))
def pg_parameter(infra: Facts, name: str, value: str) -> None:
    violations = []
    for instance in postgres_instances(infra):
        group = parameter_group(infra, "aws_db_parameter_group", instance.get("parameter_group_name"))
        found = parameters_of(group).get(name, "default")
        if found != value:
            violations.append(
                Violation(group.address if group else instance.address, f"parameter {name}", value, found)
            )
    fail_if(violations, f"PostgreSQL does not set {name}={value}")


@then("every Redis replication group has in-transit encryption and an AUTH token")
def redis_transit(infra: Facts) -> None:
    groups = redis_groups(infra)
    expect_each(groups, "transit_encryption_enabled", True, ok=truthy)
    expect_each(groups, "auth_token", "an AUTH token", read=lambda g: "set" if g.get("auth_token") else None,
                ok=lambda v: v == "set")  # fmt: skip


@then(parsers.parse('every EKS cluster encrypts "{resources}" with the "{data_class}" key'))
def eks_secrets(infra: Facts, resources: str, data_class: str) -> None:
    clusters = select(infra, "aws_eks_cluster")
    expect_each(clusters, "encryption_config.0.resources", [resources],
                ok=lambda v: isinstance(v, list) and resources in v)  # fmt: skip
    expect_key(infra, clusters, "encryption_config.0.provider.0.key_arn", data_class)


@then(parsers.parse('every CloudWatch log group is encrypted with the "{data_class}" key and has a retention period'))
def log_groups(infra: Facts, data_class: str) -> None:
    groups = select(infra, "aws_cloudwatch_log_group", what="CloudWatch log groups")
    expect_key(infra, groups, "kms_key_id", data_class)
    expect_each(groups, "retention_in_days", "> 0", ok=lambda v: isinstance(v, int) and v > 0)


def _bucket_of(infra: Facts, config: Resource) -> Resource | None:
    return infra.resolve(config.get("bucket")) or next(
        (b for b in infra.of_type("aws_s3_bucket") if b.get("bucket") == config.get("bucket")), None
    )


def _bucket_configs(infra: Facts, config_type: str, bucket: Resource) -> list[Resource]:
    return [c for c in infra.of_type(config_type) if _bucket_of(infra, c) is bucket]


@then(parsers.parse('every S3 bucket has default encryption with the "{data_class}" key'))
def bucket_encryption(infra: Facts, data_class: str) -> None:
    violations = []
    for bucket in select(infra, "aws_s3_bucket", what="S3 buckets"):
        rules = [
            r
            for c in _bucket_configs(infra, "aws_s3_bucket_server_side_encryption_configuration", bucket)
            for r in c.get("rule") or []
        ]
        defaults = [d for r in rules for d in r.get("apply_server_side_encryption_by_default") or []]
        good = [
            d
            for d in defaults
            if d.get("sse_algorithm") in ("aws:kms", "aws:kms:dsse")
            and key_class(infra, d.get("kms_master_key_id")) == data_class
        ]
        if not good:
            found = [(d.get("sse_algorithm"), describe_key(infra, d.get("kms_master_key_id"))) for d in defaults]
            violations.append(
                Violation(
                    bucket.address, "server-side encryption", f"aws:kms with the {data_class} key", found or "none"
                )
            )
    fail_if(violations, "buckets are not encrypted with their customer-managed key")


@then("every S3 bucket blocks all public access")
def bucket_public_access(infra: Facts) -> None:
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    violations = []
    for bucket in select(infra, "aws_s3_bucket", what="S3 buckets"):
        blocks = _bucket_configs(infra, "aws_s3_bucket_public_access_block", bucket)
        if not blocks:
            violations.append(Violation(bucket.address, "public access block", "all four flags", "none"))
        violations += [Violation(b.address, f, True, b.get(f)) for b in blocks for f in flags if b.get(f) is not True]
    fail_if(violations, "buckets can become public")


def _denies_plain_http(infra: Facts, policy: Resource) -> bool:
    try:
        statements = policy_statements(infra, policy.get("policy"))
    except PolicyNotReadable:
        return False
    return any(
        s.effect == "Deny"
        and any(
            c.test == "Bool"
            and str(c.variable) == "aws:SecureTransport"
            and "false" in [str(v).lower() for v in c.values]
            for c in s.conditions
        )
        for s in statements
    )


@then("every S3 bucket policy denies requests without TLS")
def bucket_tls(infra: Facts) -> None:
    violations = []
    for bucket in select(infra, "aws_s3_bucket", what="S3 buckets"):
        policies = _bucket_configs(infra, "aws_s3_bucket_policy", bucket)
        if not any(_denies_plain_http(infra, p) for p in policies):
            violations.append(
                Violation(
                    bucket.address,
                    "bucket policy",
                    "Deny when aws:SecureTransport is false",
                    [p.address for p in policies] or "none",
                )
            )
    fail_if(violations, "buckets accept plain HTTP")


@then("every ECR repository is encrypted with a customer-managed KMS key")
def ecr_encryption(infra: Facts) -> None:
    repos = select(infra, "aws_ecr_repository", what="ECR repositories")
    expect_each(repos, "encryption_configuration.0.encryption_type", "KMS")
    violations = [
        Violation(
            r.address,
            "encryption_configuration.0.kms_key",
            "a customer-managed key",
            describe_key(infra, r.get("encryption_configuration.0.kms_key")),
        )
        for r in repos
        if kms_key(infra, r.get("encryption_configuration.0.kms_key")) is None
    ]
    fail_if(violations, "ECR repositories use AWS-managed encryption")


@then("every ECR repository has immutable tags and scans on push")
def ecr_hygiene(infra: Facts) -> None:
    repos = select(infra, "aws_ecr_repository", what="ECR repositories")
    expect_each(repos, "image_tag_mutability", "IMMUTABLE")
    expect_each(repos, "image_scanning_configuration.0.scan_on_push", True)


# ------------------------------------------------------------------------------------------------------------ secrets


def _secrets(infra: Facts) -> list[Resource]:
    return select(infra, "aws_secretsmanager_secret", what="Secrets Manager secrets")


@then(parsers.parse('every Secrets Manager secret is encrypted with the "{data_class}" key'))
def secrets_key(infra: Facts, data_class: str) -> None:
    expect_key(infra, _secrets(infra), "kms_key_id", data_class)


@then("every Secrets Manager secret has a rotation schedule of the reference's rotation days")
def secrets_rotation(infra: Facts, architecture: Architecture) -> None:
    days = architecture.secrets.rotation_days
    rotations = infra.of_type("aws_secretsmanager_secret_rotation")
    violations = []
    for secret in _secrets(infra):
        mine = [r for r in rotations if infra.resolve(r.get("secret_id")) is secret]
        if not mine:
            violations.append(Violation(secret.address, "rotation", f"every {days} days", "no rotation"))
        for rotation in mine:
            found = rotation.get("rotation_rules.0.automatically_after_days")
            if found != days:
                violations.append(Violation(rotation.address, "rotation_rules.automatically_after_days", days, found))
    fail_if(violations, "secrets do not rotate on the reference's schedule")


@then(parsers.parse('the Secrets Manager secrets are exactly "{names}" of the environment'))
def secrets_names(infra: Facts, names: str) -> None:
    wanted = {f"eks-shop/{infra.environment}/{n}" for n in csv_items(names)}
    secrets = _secrets(infra)
    found = {str(s.get("name")) for s in secrets}
    violations = [
        Violation(s.address, "name", sorted(wanted), s.get("name")) for s in secrets if s.get("name") not in wanted
    ]
    violations += [Violation(f"<{n}>", "secret", n, "missing") for n in sorted(wanted - found)]
    fail_if(violations, "the secrets are not the conventional ones")


@then("every Secrets Manager secret is tagged with the service in its name")
def secrets_service_tag(infra: Facts) -> None:
    expect_each(
        _secrets(infra),
        "tags.Service",
        "the <service> of eks-shop/<env>/<service>/<name>",
        read=lambda s: json.dumps([s.tags.get("Service"), str(s.get("name")).split("/")[2:3]]),
        ok=lambda v: (pair := json.loads(v))[1] == [pair[0]],
    )


@then("every PostgreSQL and DocumentDB database has a managed master password and no master password set")
def managed_master_passwords(infra: Facts) -> None:
    """Database types that take a master password (aws_db_instance: password; aws_rds_cluster, aws_docdb_cluster:
    master_password, or master_password_wo, which manage_master_user_password excludes as well)."""
    databases = [
        *select(infra, "aws_db_instance", what="RDS instances"),
        *infra.of_type("aws_rds_cluster"),
        *select(infra, "aws_docdb_cluster", what="DocumentDB clusters"),
    ]
    violations = []
    for database in databases:
        if database.type == "aws_db_instance" and database.get("replicate_source_db"):
            continue  # a read replica has its source's credentials and takes none of its own
        password = database.get("master_password") if database.type != "aws_db_instance" else database.get("password")
        if password is not None:
            field = "password" if database.type == "aws_db_instance" else "master_password"
            violations.append(
                Violation(database.address, field, "not set (managed password)", "set (in plan and state)")
            )
        if database.get("manage_master_user_password") is not True:
            violations.append(
                Violation(
                    database.address, "manage_master_user_password", True, database.get("manage_master_user_password")
                )
            )
    fail_if(violations, "a database master password passes through Terraform")
