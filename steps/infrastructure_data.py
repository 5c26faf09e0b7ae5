"""Steps about the data stores, encryption and secrets (features/data-stores.feature, encryption.feature,
secrets.feature). Terraform-shaped facts, so plan and live account alike."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then

from conformance.checks import expect_each, fail_if, select
from conformance.cost import load_prices
from conformance.facts import Facts, Resource
from conformance.outcomes import Violation
from conformance.views.encryption import describe_key, key_class
from conformance.views.network import tier_of
from reference import Architecture

POSTGRES, REDIS, DOCDB = "aws_db_instance", "aws_elasticache_replication_group", "aws_docdb_cluster"
SUBNET_GROUPS = ("aws_db_subnet_group", "aws_elasticache_subnet_group", "aws_docdb_subnet_group")


def csv_items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def truthy(value: Any) -> bool:
    return value is True or value == "true"


def postgres_instances(infra: Facts) -> list[Resource]:
    return select(infra, POSTGRES, lambda r: r.get("engine") == "postgres", "PostgreSQL instances")


def redis_groups(infra: Facts) -> list[Resource]:
    return select(infra, REDIS, what="Redis replication groups")


def docdb_clusters(infra: Facts) -> list[Resource]:
    return select(infra, DOCDB, what="DocumentDB clusters")


def _size_ok(family: str, reference: str, found: Any, environment: str) -> bool:
    """The reference class, or in prod one at least as large (vCPU and memory from prices.yaml)."""
    if found == reference:
        return True
    if environment != "prod":
        return False
    prices = load_prices()
    ref, got = prices.instance(family, reference), prices.instance(family, str(found))
    return bool(ref and got and got["vcpu"] >= ref["vcpu"] and got["memory_gib"] >= ref["memory_gib"])


def _class_step(resources: list[Resource], field: str, family: str, reference: str, environment: str) -> None:
    expect_each(
        resources,
        field,
        reference if environment != "prod" else f"{reference} or larger",
        ok=lambda v: _size_ok(family, reference, v, environment),
    )


def expect_key(infra: Facts, resources: list[Resource], field: str, data_class: str) -> None:
    violations = [
        Violation(r.address, field, f"the {data_class} customer-managed key", describe_key(infra, r.get(field)))
        for r in resources
        if key_class(infra, r.get(field)) != data_class
    ]
    fail_if(violations, f"not encrypted with the {data_class} key")


# ------------------------------------------------------------------------------------------------------- PostgreSQL


@then("every PostgreSQL instance runs the reference engine version")
def pg_version(infra: Facts, architecture: Architecture) -> None:
    major = architecture.data_stores.postgresql.version
    expect_each(postgres_instances(infra), "engine_version", f"{major}.x", ok=lambda v: str(v).split(".")[0] == major)


@then("every PostgreSQL instance has the reference instance class, or a larger one in prod")
def pg_class(infra: Facts, architecture: Architecture) -> None:
    ref = architecture.data_stores.postgresql.instance_class
    _class_step(postgres_instances(infra), "instance_class", "rds_postgres", ref, infra.environment)


@then("every PostgreSQL instance is Multi-AZ")
def pg_multi_az(infra: Facts) -> None:
    expect_each(postgres_instances(infra), "multi_az", True)


@then("every PostgreSQL instance keeps automated backups for the reference's retention days")
def pg_backups(infra: Facts, architecture: Architecture) -> None:
    days = architecture.data_stores.postgresql.backup_retention_days
    expect_each(
        postgres_instances(infra),
        "backup_retention_period",
        f">= {days}",
        ok=lambda v: isinstance(v, int) and v >= days,
    )


@then("no PostgreSQL instance is publicly accessible")
def pg_private(infra: Facts) -> None:
    expect_each(postgres_instances(infra), "publicly_accessible", False, ok=lambda v: v in (False, None))


@then("every PostgreSQL instance has IAM database authentication enabled")
def pg_iam_auth(infra: Facts) -> None:
    expect_each(postgres_instances(infra), "iam_database_authentication_enabled", True)


@then(
    parsers.parse(
        'every PostgreSQL instance has its master password managed by Secrets Manager with the "{data_class}" key'
    )
)
def pg_managed_password(infra: Facts, data_class: str) -> None:
    instances = postgres_instances(infra)
    expect_each(instances, "manage_master_user_password", True)
    expect_key(infra, instances, "master_user_secret_kms_key_id", data_class)


@then("every PostgreSQL instance and DocumentDB cluster has the environment's deletion protection")
def deletion_protection(infra: Facts, architecture: Architecture) -> None:
    wanted = architecture.environments[infra.environment].deletion_protection  # type: ignore[index]
    stores = postgres_instances(infra) + docdb_clusters(infra)
    # Protection is required where the reference asks for it; elsewhere it is the environment's choice.
    expect_each(stores, "deletion_protection", wanted, ok=lambda v: v is True or not wanted)


@then("every PostgreSQL instance and DocumentDB cluster keeps a final snapshot when deletion-protected")
def final_snapshot(infra: Facts) -> None:
    protected = [r for r in postgres_instances(infra) + docdb_clusters(infra) if r.get("deletion_protection") is True]
    expect_each(protected, "skip_final_snapshot", False)


@then(parsers.parse('every PostgreSQL instance has Performance Insights encrypted with the "{data_class}" key'))
def pg_insights(infra: Facts, data_class: str) -> None:
    instances = postgres_instances(infra)
    expect_each(instances, "performance_insights_enabled", True)
    expect_key(infra, instances, "performance_insights_kms_key_id", data_class)


# ------------------------------------------------------------------------------------------------------------ Redis


@then("every Redis replication group runs the reference engine major version")
def redis_version(infra: Facts, architecture: Architecture) -> None:
    major = architecture.data_stores.redis.version
    groups = redis_groups(infra)
    expect_each(groups, "engine", "redis")
    expect_each(groups, "engine_version", f"{major}.x", ok=lambda v: str(v).split(".")[0] == major)


@then("every Redis replication group has the reference node type, or a larger one in prod")
def redis_node_type(infra: Facts, architecture: Architecture) -> None:
    _class_step(
        redis_groups(infra), "node_type", "elasticache", architecture.data_stores.redis.node_type, infra.environment
    )


@then("every Redis replication group has cluster mode with the environment's shards and replicas per shard")
def redis_topology(infra: Facts, architecture: Architecture) -> None:
    shards, replicas = architecture.redis_topology(infra.environment)
    groups = redis_groups(infra)
    expect_each(groups, "cluster_mode", "enabled")
    expect_each(groups, "num_node_groups", shards)
    expect_each(groups, "replicas_per_node_group", replicas)


@then("every Redis replication group has automatic failover and Multi-AZ enabled")
def redis_failover(infra: Facts) -> None:
    groups = redis_groups(infra)
    expect_each(groups, "automatic_failover_enabled", True)
    expect_each(groups, "multi_az_enabled", True)


def parameters_of(group: Resource | None) -> dict[str, str]:
    if group is None:
        return {}
    return {str(p.get("name")): str(p.get("value")) for p in group.get("parameter") or [] if isinstance(p, dict)}


def parameter_group(infra: Facts, group_type: str, name: Any) -> Resource | None:
    found = infra.resolve(name)
    if found is not None and found.type == group_type:
        return found
    return next((g for g in infra.of_type(group_type) if g.get("name") == name), None)


@then("every Redis replication group uses a parameter group with cluster mode enabled")
def redis_clusterparameters_of(infra: Facts) -> None:
    expect_each(
        redis_groups(infra),
        "parameter_group_name (cluster-enabled)",
        "yes",
        read=lambda g: parameters_of(
            parameter_group(infra, "aws_elasticache_parameter_group", g.get("parameter_group_name"))
        ).get("cluster-enabled"),
    )


# ------------------------------------------------------------------------------------------------------- DocumentDB


@then("every DocumentDB cluster runs the reference engine version")
def docdb_version(infra: Facts, architecture: Architecture) -> None:
    version = architecture.data_stores.documentdb.version
    expect_each(docdb_clusters(infra), "engine_version", f"{version}.x", ok=lambda v: f"{v}.".startswith(f"{version}."))


def _docdb_instances(infra: Facts, cluster: Resource) -> list[Resource]:
    return [
        i
        for i in infra.of_type("aws_docdb_cluster_instance")
        if infra.resolve(i.get("cluster_identifier")) is cluster
        or i.get("cluster_identifier") == cluster.get("cluster_identifier")
    ]


@then("every DocumentDB cluster has the reference number of instances, each in a different availability zone")
def docdb_instances(infra: Facts, architecture: Architecture) -> None:
    count = architecture.data_stores.documentdb.instances
    violations = []
    for cluster in docdb_clusters(infra):
        instances = _docdb_instances(infra, cluster)
        zones = [str(i.get("availability_zone")) for i in instances]
        if len(instances) != count:
            violations.append(Violation(cluster.address, "instances", count, len(instances)))
        for instance in instances:
            zone = str(instance.get("availability_zone"))
            if zones.count(zone) > 1 or not isinstance(instance.get("availability_zone"), str):
                violations.append(Violation(instance.address, "availability_zone", "a zone of its own", zone))
    fail_if(violations, "DocumentDB is not one primary and replicas across zones")


@then("every DocumentDB instance has the reference instance class, or a larger one in prod")
def docdb_class(infra: Facts, architecture: Architecture) -> None:
    instances = select(infra, "aws_docdb_cluster_instance", what="DocumentDB instances")
    ref = architecture.data_stores.documentdb.instance_class
    _class_step(instances, "instance_class", "documentdb", ref, infra.environment)


@then(parsers.parse('every DocumentDB cluster exports the "{logs}" logs'))
def docdb_exports(infra: Facts, logs: str) -> None:
    wanted = set(csv_items(logs))
    expect_each(docdb_clusters(infra), "enabled_cloudwatch_logs_exports", sorted(wanted),
                ok=lambda v: isinstance(v, list) and wanted <= set(v))  # fmt: skip


@then(parsers.parse('every DocumentDB cluster parameter group enables "{names}"'))
def docdbparameters_of(infra: Facts, names: str) -> None:
    violations = []
    for cluster in docdb_clusters(infra):
        group = parameter_group(
            infra, "aws_docdb_cluster_parameter_group", cluster.get("db_cluster_parameter_group_name")
        )
        params = parameters_of(group)
        for name in csv_items(names):
            if params.get(name) != "enabled":
                where = group.address if group is not None else cluster.address
                violations.append(Violation(where, f"parameter {name}", "enabled", params.get(name, "default")))
    fail_if(violations, "the DocumentDB parameter group does not enforce the setting")


@then("every DocumentDB cluster keeps backups for the reference's retention days")
def docdb_backups(infra: Facts, architecture: Architecture) -> None:
    days = architecture.data_stores.documentdb.backup_retention_days
    expect_each(
        docdb_clusters(infra), "backup_retention_period", f">= {days}", ok=lambda v: isinstance(v, int) and v >= days
    )


# ------------------------------------------------------------------------------------------------------ subnet groups


def _subnet_group_subnets(infra: Facts, group: Resource) -> list[Resource | None]:
    values = group.get("subnet_ids")
    values = values if isinstance(values, list) else [values]
    return [infra.resolve(v) for v in values]


@then(parsers.parse('every data store subnet group uses exactly the "{tier}" subnets'))
def subnet_groups_tier(infra: Facts, tier: str) -> None:
    groups = [g for t in SUBNET_GROUPS for g in infra.of_type(t)]
    if not groups:
        select(infra, SUBNET_GROUPS[0], what="data store subnet groups")
    wanted = {s.address for s in infra.of_type("aws_subnet") if tier_of(s) == tier}
    expect_each(
        groups,
        "subnet_ids",
        f"the {tier} subnets",
        read=lambda g: sorted(s.address if s else "unknown" for s in _subnet_group_subnets(infra, g)),
        ok=lambda found: set(found) == wanted,
    )


@then(parsers.parse("every data store subnet group covers {count:d} distinct availability zones"))
def subnet_groups_zones(infra: Facts, count: int) -> None:
    groups = [g for t in SUBNET_GROUPS for g in infra.of_type(t)]
    if not groups:
        select(infra, SUBNET_GROUPS[0], what="data store subnet groups")
    expect_each(
        groups,
        "subnet_ids (availability zones)",
        f"{count} distinct zones",
        read=lambda g: sorted(
            {str(s.get("availability_zone")) if s else "unknown" for s in _subnet_group_subnets(infra, g)}
        ),
        ok=lambda zones: len(zones) >= count and "unknown" not in zones,
    )
