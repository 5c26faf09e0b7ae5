"""RDS (PostgreSQL) and DocumentDB: the same RDS API, told apart by engine.

DB subnet groups serve both; each is typed by the database that uses it (aws_db_subnet_group for an RDS instance,
aws_docdb_subnet_group for a DocumentDB cluster), as the Terraform configuration types them.
"""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, resource, tag_dict, with_tags
from conformance.facts import Resource

DOCDB = "docdb"


def _tags(client: Any, arn: str) -> dict[str, str]:
    return tag_dict(client.list_tags_for_resource(ResourceName=arn).get("TagList", []))


def _parameters(client: Any, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    # Only what the configuration set (Source=user): defaults are the engine's, not the deployment's.
    return [
        {
            "name": p["ParameterName"],
            "value": p.get("ParameterValue"),
            "apply_method": p.get("ApplyMethod", "immediate"),
        }
        for p in paginate(client, operation, "Parameters", Source="user", **kwargs)
    ]


def _subnet_group(client: Any, name: str, kind: str) -> Resource | None:
    groups = client.describe_db_subnet_groups(DBSubnetGroupName=name).get("DBSubnetGroups", [])
    if not groups:
        return None
    group = groups[0]
    values: dict[str, Any] = {
        "id": name,
        "name": name,
        "arn": group.get("DBSubnetGroupArn"),
        "description": group.get("DBSubnetGroupDescription", ""),
        "vpc_id": group.get("VpcId"),
        "subnet_ids": sorted(s["SubnetIdentifier"] for s in group.get("Subnets", [])),
    }
    return resource(kind, with_tags(values, _tags(client, group["DBSubnetGroupArn"])), "name")


def _master_user_secret(secret: dict[str, Any]) -> list[dict[str, Any]]:
    """The provider's ``master_user_secret`` block from a described ``MasterUserSecret`` (RDS and DocumentDB alike)."""
    if not secret:
        return []
    return [
        {
            "kms_key_id": secret.get("KmsKeyId"),
            "secret_arn": secret.get("SecretArn"),
            "secret_status": secret.get("SecretStatus"),
        }
    ]


def _instance(db: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    secret = db.get("MasterUserSecret") or {}
    return with_tags(
        {
            "id": db.get("DbiResourceId") or db["DBInstanceIdentifier"],
            "identifier": db["DBInstanceIdentifier"],
            "resource_id": db.get("DbiResourceId"),
            "arn": db.get("DBInstanceArn"),
            "engine": db.get("Engine"),
            "engine_version": db.get("EngineVersion"),
            "instance_class": db.get("DBInstanceClass"),
            "multi_az": db.get("MultiAZ", False),
            "availability_zone": db.get("AvailabilityZone"),
            "storage_encrypted": db.get("StorageEncrypted", False),
            "kms_key_id": db.get("KmsKeyId", ""),
            "storage_type": db.get("StorageType"),
            "allocated_storage": db.get("AllocatedStorage"),
            "max_allocated_storage": db.get("MaxAllocatedStorage", 0),
            "db_subnet_group_name": (db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
            "parameter_group_name": next((g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])), None),
            "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])),
            "publicly_accessible": db.get("PubliclyAccessible", False),
            "deletion_protection": db.get("DeletionProtection", False),
            "backup_retention_period": db.get("BackupRetentionPeriod"),
            "backup_window": db.get("PreferredBackupWindow"),
            "maintenance_window": db.get("PreferredMaintenanceWindow"),
            "iam_database_authentication_enabled": db.get("IAMDatabaseAuthenticationEnabled", False),
            "manage_master_user_password": bool(secret) or None,
            "master_user_secret_kms_key_id": secret.get("KmsKeyId"),
            "master_user_secret": _master_user_secret(secret),
            "username": db.get("MasterUsername"),
            "port": (db.get("Endpoint") or {}).get("Port") or db.get("DbInstancePort"),
            "address": (db.get("Endpoint") or {}).get("Address"),
            "enabled_cloudwatch_logs_exports": db.get("EnabledCloudwatchLogsExports", []),
            "performance_insights_enabled": db.get("PerformanceInsightsEnabled", False),
            "performance_insights_kms_key_id": db.get("PerformanceInsightsKMSKeyId", ""),
            "performance_insights_retention_period": db.get("PerformanceInsightsRetentionPeriod"),
            "monitoring_interval": db.get("MonitoringInterval", 0),
            "auto_minor_version_upgrade": db.get("AutoMinorVersionUpgrade"),
            "copy_tags_to_snapshot": db.get("CopyTagsToSnapshot", False),
            "ca_cert_identifier": db.get("CACertificateIdentifier"),
            "status": db.get("DBInstanceStatus"),
        },
        tags,
    )


def collect_rds(ctx: CollectContext) -> list[Resource]:
    rds = ctx.client("rds")
    out: list[Resource] = []
    subnet_groups: set[str] = set()
    parameter_groups: set[str] = set()
    for db in paginate(rds, "describe_db_instances", "DBInstances"):
        if db.get("Engine") in (DOCDB, "neptune") or db.get("DBClusterIdentifier"):
            continue  # cluster members (DocumentDB, Aurora) are read with their cluster
        tags = tag_dict(db.get("TagList"))
        if not ctx.in_scope(tags):
            continue
        values = _instance(db, tags)
        out.append(resource("aws_db_instance", values, "identifier"))
        if values["db_subnet_group_name"]:
            subnet_groups.add(values["db_subnet_group_name"])
        if values["parameter_group_name"] and not str(values["parameter_group_name"]).startswith("default."):
            parameter_groups.add(values["parameter_group_name"])
    for name in sorted(subnet_groups):
        group = _subnet_group(rds, name, "aws_db_subnet_group")
        if group is not None:
            out.append(group)
    for name in sorted(parameter_groups):
        group = rds.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"][0]
        values = {
            "id": name,
            "name": name,
            "arn": group.get("DBParameterGroupArn"),
            "family": group.get("DBParameterGroupFamily"),
            "description": group.get("Description", ""),
            "parameter": _parameters(rds, "describe_db_parameters", DBParameterGroupName=name),
        }
        out.append(
            resource("aws_db_parameter_group", with_tags(values, _tags(rds, group["DBParameterGroupArn"])), "name")
        )
    return out


def collect_docdb(ctx: CollectContext) -> list[Resource]:
    docdb = ctx.client("docdb")
    out: list[Resource] = []
    subnet_groups: set[str] = set()
    parameter_groups: set[str] = set()
    for cluster in paginate(docdb, "describe_db_clusters", "DBClusters"):
        if cluster.get("Engine") != DOCDB:
            continue
        tags = tag_dict(cluster.get("TagList")) or _tags(docdb, cluster["DBClusterArn"])
        if not ctx.in_scope(tags):
            continue
        cluster_id = cluster["DBClusterIdentifier"]
        secret = cluster.get("MasterUserSecret") or {}
        values: dict[str, Any] = {
            "id": cluster_id,
            "cluster_identifier": cluster_id,
            "arn": cluster.get("DBClusterArn"),
            "cluster_resource_id": cluster.get("DbClusterResourceId"),
            "engine": cluster.get("Engine"),
            "engine_version": cluster.get("EngineVersion"),
            "storage_encrypted": cluster.get("StorageEncrypted", False),
            "kms_key_id": cluster.get("KmsKeyId", ""),
            "db_subnet_group_name": cluster.get("DBSubnetGroup"),
            "db_cluster_parameter_group_name": cluster.get("DBClusterParameterGroup"),
            "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])),
            "backup_retention_period": cluster.get("BackupRetentionPeriod"),
            "preferred_backup_window": cluster.get("PreferredBackupWindow"),
            "preferred_maintenance_window": cluster.get("PreferredMaintenanceWindow"),
            "deletion_protection": cluster.get("DeletionProtection", False),
            "enabled_cloudwatch_logs_exports": cluster.get("EnabledCloudwatchLogsExports", []),
            "port": cluster.get("Port"),
            "master_username": cluster.get("MasterUsername"),
            # The master password itself is never readable; a managed one shows as its secret.
            "manage_master_user_password": bool(secret) or None,
            "master_user_secret": _master_user_secret(secret),
            "availability_zones": sorted(cluster.get("AvailabilityZones", [])),
            "cluster_members": sorted(m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])),
            "endpoint": cluster.get("Endpoint"),
            "reader_endpoint": cluster.get("ReaderEndpoint"),
        }
        out.append(resource("aws_docdb_cluster", with_tags(values, tags), "cluster_identifier"))
        subnet_groups.add(str(values["db_subnet_group_name"]))
        if values["db_cluster_parameter_group_name"]:
            parameter_groups.add(str(values["db_cluster_parameter_group_name"]))
        writers = {m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")}
        member_filter = [{"Name": "db-cluster-id", "Values": [cluster_id]}]
        for db in paginate(docdb, "describe_db_instances", "DBInstances", Filters=member_filter):
            if db.get("DBClusterIdentifier") != cluster_id:
                continue
            instance_tags = tag_dict(db.get("TagList")) or _tags(docdb, db["DBInstanceArn"])
            instance = {
                "id": db["DBInstanceIdentifier"],
                "identifier": db["DBInstanceIdentifier"],
                "arn": db.get("DBInstanceArn"),
                "cluster_identifier": cluster_id,
                "instance_class": db.get("DBInstanceClass"),
                "availability_zone": db.get("AvailabilityZone"),
                "engine": db.get("Engine"),
                "storage_encrypted": db.get("StorageEncrypted", values["storage_encrypted"]),
                "kms_key_id": db.get("KmsKeyId", values["kms_key_id"]),
                "publicly_accessible": db.get("PubliclyAccessible", False),
                "auto_minor_version_upgrade": db.get("AutoMinorVersionUpgrade"),
                "promotion_tier": db.get("PromotionTier"),
                "writer": db["DBInstanceIdentifier"] in writers,
            }
            out.append(resource("aws_docdb_cluster_instance", with_tags(instance, instance_tags), "identifier"))
    for name in sorted(subnet_groups):
        group = _subnet_group(docdb, name, "aws_docdb_subnet_group")
        if group is not None:
            out.append(group)
    for name in sorted(parameter_groups):
        found = docdb.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name)
        group = found["DBClusterParameterGroups"][0]
        values = {
            "id": name,
            "name": name,
            "arn": group.get("DBClusterParameterGroupArn"),
            "family": group.get("DBParameterGroupFamily"),
            "description": group.get("Description", ""),
            "parameter": _parameters(docdb, "describe_db_cluster_parameters", DBClusterParameterGroupName=name),
        }
        tags = _tags(docdb, group["DBClusterParameterGroupArn"])
        out.append(resource("aws_docdb_cluster_parameter_group", with_tags(values, tags), "name"))
    return out
