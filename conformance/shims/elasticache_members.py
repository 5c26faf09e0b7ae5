"""ElastiCache replication groups with real member clusters.

moto's CreateReplicationGroup lists member cluster ids but creates no cache clusters behind them, and (with cluster
mode disabled) ignores ``NumCacheClusters``. The provider reads every member back with DescribeCacheClusters after
create and fails with CacheClusterNotFound. The shim sizes the group from ``NumCacheClusters`` the way AWS does
(primary + replicas spread over the preferred zones) and creates one cache cluster per member.
"""

from __future__ import annotations

from typing import Any

GAP = "replication groups have member cluster ids but no cache clusters (read-back fails)"


def apply() -> None:
    from moto.elasticache import models

    backend_cls = models.ElastiCacheBackend
    original = backend_cls.create_replication_group
    if getattr(original, "__shimmed__", False):
        return

    def create_replication_group(self: Any, **kwargs: Any) -> Any:
        wanted = kwargs.get("num_cache_clusters") or 0
        if kwargs.get("cluster_mode") != "enabled" and not kwargs.get("replicas_per_node_group") and wanted > 1:
            kwargs["replicas_per_node_group"] = wanted - 1  # moto sizes the node group from the replica count
        group = original(self, **kwargs)
        zones = kwargs.get("preferred_cache_cluster_azs") or []
        for node_group in group.node_groups:
            for member in node_group["node_group_members"]:
                cluster_id = member["cache_cluster_id"]
                if cluster_id in self.cache_clusters:
                    continue
                cluster = models.CacheCluster(
                    account_id=self.account_id,
                    region_name=self.region_name,
                    cache_cluster_id=cluster_id,
                    replication_group_id=group.replication_group_id,
                    az_mode="single-az",
                    preferred_availability_zone=member.get("preferred_availability_zone")
                    or (zones[0] if zones else f"{self.region_name}a"),
                    preferred_availability_zones=zones,
                    num_cache_nodes=1,
                    cache_node_type=group.cache_node_type,
                    engine=group.engine,
                    engine_version=kwargs.get("engine_version"),
                    cache_parameter_group_name=kwargs.get("cache_parameter_group_name"),
                    cache_subnet_group_name=kwargs.get("cache_subnet_group_name"),
                    cache_security_group_names=kwargs.get("cache_security_group_names") or [],
                    security_group_ids=kwargs.get("security_group_ids") or [],
                    tags=kwargs.get("tags") or [],
                    snapshot_arns=[],
                    snapshot_name=None,
                    preferred_maintenance_window=kwargs.get("preferred_maintenance_window"),
                    port=group.port,
                    notification_topic_arn=None,
                    auto_minor_version_upgrade=kwargs.get("auto_minor_version_upgrade"),
                    snapshot_retention_limit=kwargs.get("snapshot_retention_limit") or 0,
                    snapshot_window=kwargs.get("snapshot_window"),
                    auth_token=None,  # never stored twice: the group holds the token state
                    outpost_mode=None,
                    preferred_outpost_arn=None,
                    preferred_outpost_arns=[],
                    log_delivery_configurations=[],
                    transit_encryption_enabled=kwargs.get("transit_encryption_enabled"),
                    network_type=kwargs.get("network_type"),
                    ip_discovery=kwargs.get("ip_discovery"),
                    cache_node_ids_to_remove=[],
                    cache_node_ids_to_reboot=[],
                )
                # moto keeps these on the cluster but does not answer them: the provider and collectors read them.
                if kwargs.get("cache_parameter_group_name"):
                    cluster.cache_parameter_group = {  # type: ignore[attr-defined]
                        "CacheParameterGroupName": kwargs["cache_parameter_group_name"],
                        "ParameterApplyStatus": "in-sync",
                        "CacheNodeIdsToReboot": [],
                    }
                cluster.security_groups = [  # type: ignore[attr-defined]
                    {"SecurityGroupId": g, "Status": "active"} for g in kwargs.get("security_group_ids") or []
                ]
                self.cache_clusters[cluster_id] = cluster
        return group

    original_delete = backend_cls.delete_replication_group

    def delete_replication_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = original_delete(self, *args, **kwargs)
        for cluster_id in list(getattr(group, "member_clusters", [])):
            self.cache_clusters.pop(cluster_id, None)
        return group

    create_replication_group.__shimmed__ = True  # type: ignore[attr-defined]
    backend_cls.create_replication_group = create_replication_group  # type: ignore[method-assign,assignment]
    backend_cls.delete_replication_group = delete_replication_group  # type: ignore[method-assign]
