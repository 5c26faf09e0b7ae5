"""ElastiCache: Redis replication groups, their subnet and parameter groups. The auth token is never read."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, paginate, resource, tag_dict, with_tags
from conformance.facts import Resource


def _tags(client: Any, arn: str) -> dict[str, str]:
    return tag_dict(client.list_tags_for_resource(ResourceName=arn).get("TagList", []))


def collect(ctx: CollectContext) -> list[Resource]:
    ec = ctx.client("elasticache")
    out: list[Resource] = []
    clusters = {c["CacheClusterId"]: c for c in paginate(ec, "describe_cache_clusters", "CacheClusters")}
    subnet_groups: set[str] = set()
    parameter_groups: set[str] = set()
    for group in paginate(ec, "describe_replication_groups", "ReplicationGroups"):
        tags = _tags(ec, group["ARN"])
        if not ctx.in_scope(tags):
            continue
        members = [clusters[m] for m in group.get("MemberClusters", []) if m in clusters]
        first = members[0] if members else {}
        node_groups = group.get("NodeGroups", [])
        primary = (node_groups[0].get("PrimaryEndpoint") or {}) if node_groups else {}
        values: dict[str, Any] = {
            "id": group["ReplicationGroupId"],
            "replication_group_id": group["ReplicationGroupId"],
            "arn": group["ARN"],
            "description": group.get("Description"),
            "engine": first.get("Engine") or group.get("Engine", "redis"),
            "engine_version": first.get("EngineVersion"),
            "node_type": group.get("CacheNodeType"),
            "cluster_mode": group.get("ClusterMode") or ("enabled" if group.get("ClusterEnabled") else "disabled"),
            "cluster_enabled": group.get("ClusterEnabled", False),
            "num_node_groups": len(node_groups),
            "replicas_per_node_group": max((len(n.get("NodeGroupMembers", [])) - 1 for n in node_groups), default=0),
            "num_cache_clusters": len(group.get("MemberClusters", [])),
            "member_clusters": sorted(group.get("MemberClusters", [])),
            "automatic_failover_enabled": group.get("AutomaticFailover") in ("enabled", "enabling"),
            "multi_az_enabled": group.get("MultiAZ") == "enabled",
            "at_rest_encryption_enabled": group.get("AtRestEncryptionEnabled", False),
            "transit_encryption_enabled": group.get("TransitEncryptionEnabled", False),
            # The token is write-only: a live read knows only whether one is set, and says so without a value.
            "auth_token_enabled": group.get("AuthTokenEnabled", False),
            "auth_token": "(set, write-only)" if group.get("AuthTokenEnabled") else None,
            "kms_key_id": group.get("KmsKeyId", ""),
            "port": primary.get("Port") or first.get("Port") or 6379,
            "primary_endpoint_address": primary.get("Address"),
            "configuration_endpoint_address": (group.get("ConfigurationEndpoint") or {}).get("Address"),
            "snapshot_retention_limit": group.get("SnapshotRetentionLimit", 0),
            "snapshot_window": group.get("SnapshotWindow"),
            "subnet_group_name": first.get("CacheSubnetGroupName"),
            "parameter_group_name": (first.get("CacheParameterGroup") or {}).get("CacheParameterGroupName"),
            "security_group_ids": sorted(g["SecurityGroupId"] for g in first.get("SecurityGroups", [])),
            "preferred_cache_cluster_azs": [m.get("PreferredAvailabilityZone") for m in members],
            "log_delivery_configuration": [
                {
                    "destination": c.get("DestinationDetails", {}).get("CloudWatchLogsDetails", {}).get("LogGroup"),
                    "destination_type": c.get("DestinationType"),
                    "log_format": c.get("LogFormat"),
                    "log_type": c.get("LogType"),
                }
                for c in group.get("LogDeliveryConfigurations", [])
            ],
        }
        out.append(resource("aws_elasticache_replication_group", with_tags(values, tags), "replication_group_id"))
        if values["subnet_group_name"]:
            subnet_groups.add(values["subnet_group_name"])
        if values["parameter_group_name"] and not str(values["parameter_group_name"]).startswith("default."):
            parameter_groups.add(values["parameter_group_name"])
    for group in paginate(ec, "describe_cache_subnet_groups", "CacheSubnetGroups"):
        arn = group.get("ARN", "")
        tags = _tags(ec, arn) if arn else {}
        if group["CacheSubnetGroupName"] not in subnet_groups and not ctx.in_scope(tags):
            continue
        values = {
            "id": group["CacheSubnetGroupName"],
            "name": group["CacheSubnetGroupName"],
            "arn": arn,
            "description": group.get("CacheSubnetGroupDescription"),
            "vpc_id": group.get("VpcId"),
            "subnet_ids": sorted(s["SubnetIdentifier"] for s in group.get("Subnets", [])),
        }
        out.append(resource("aws_elasticache_subnet_group", with_tags(values, tags), "name"))
    for name in sorted(parameter_groups):
        group = ec.describe_cache_parameter_groups(CacheParameterGroupName=name)["CacheParameterGroups"][0]
        parameters = [
            {"name": p["ParameterName"], "value": p.get("ParameterValue")}
            for p in paginate(
                ec, "describe_cache_parameters", "Parameters", CacheParameterGroupName=name, Source="user"
            )
        ]
        values = {
            "id": name,
            "name": name,
            "arn": group.get("ARN"),
            "family": group.get("CacheParameterGroupFamily"),
            "description": group.get("Description"),
            "parameter": parameters,
        }
        out.append(
            resource("aws_elasticache_parameter_group", with_tags(values, _tags(ec, group.get("ARN", ""))), "name")
        )
    return out
