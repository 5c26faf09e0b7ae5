"""EKS: the cluster (encryption, logging, endpoint access, OIDC issuer), node groups, Fargate profiles, add-ons."""

from __future__ import annotations

from typing import Any

from conformance.collectors.base import CollectContext, error_code, paginate, resource, with_tags
from conformance.facts import Resource


class ClusterNotFound(LookupError):
    """The cluster named by the options is not in this account and region."""


def _cluster(cluster: dict[str, Any]) -> dict[str, Any]:
    vpc = cluster.get("resourcesVpcConfig") or {}
    logging = (cluster.get("logging") or {}).get("clusterLogging", [])
    access = cluster.get("accessConfig") or {}
    network = cluster.get("kubernetesNetworkConfig") or {}
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    return with_tags(
        {
            "id": cluster["name"],
            "name": cluster["name"],
            "arn": cluster.get("arn"),
            "version": cluster.get("version"),
            "platform_version": cluster.get("platformVersion"),
            "role_arn": cluster.get("roleArn"),
            "status": cluster.get("status"),
            "endpoint": cluster.get("endpoint"),
            "vpc_config": [
                {
                    "subnet_ids": sorted(vpc.get("subnetIds", [])),
                    "security_group_ids": sorted(vpc.get("securityGroupIds", [])),
                    "cluster_security_group_id": vpc.get("clusterSecurityGroupId"),
                    "vpc_id": vpc.get("vpcId"),
                    "endpoint_private_access": vpc.get("endpointPrivateAccess", False),
                    "endpoint_public_access": vpc.get("endpointPublicAccess", True),
                    "public_access_cidrs": vpc.get("publicAccessCidrs", []),
                }
            ],
            "encryption_config": [
                {
                    "resources": e.get("resources", []),
                    "provider": [{"key_arn": (e.get("provider") or {}).get("keyArn")}],
                }
                for e in cluster.get("encryptionConfig", [])
            ],
            "enabled_cluster_log_types": sorted(
                t for entry in logging if entry.get("enabled") for t in entry.get("types", [])
            ),
            "identity": [{"oidc": [{"issuer": issuer}]}] if issuer else [],
            "access_config": [
                {
                    "authentication_mode": access.get("authenticationMode"),
                    "bootstrap_cluster_creator_admin_permissions": access.get(
                        "bootstrapClusterCreatorAdminPermissions"
                    ),
                }
            ]
            if access
            else [],
            "kubernetes_network_config": [
                {"service_ipv4_cidr": network.get("serviceIpv4Cidr"), "ip_family": network.get("ipFamily")}
            ]
            if network
            else [],
        },
        cluster.get("tags") or {},
    )


def _node_group(group: dict[str, Any]) -> dict[str, Any]:
    scaling = group.get("scalingConfig") or {}
    template = group.get("launchTemplate") or {}
    update = group.get("updateConfig") or {}
    return with_tags(
        {
            "id": f"{group['clusterName']}:{group['nodegroupName']}",
            "arn": group.get("nodegroupArn"),
            "cluster_name": group["clusterName"],
            "node_group_name": group["nodegroupName"],
            "node_role_arn": group.get("nodeRole"),
            "subnet_ids": sorted(group.get("subnets", [])),
            "instance_types": group.get("instanceTypes") or [],
            "capacity_type": group.get("capacityType"),
            "ami_type": group.get("amiType"),
            "disk_size": group.get("diskSize"),
            "version": group.get("version"),
            "release_version": group.get("releaseVersion"),
            "status": group.get("status"),
            "labels": group.get("labels") or {},
            "taint": [
                {"key": t.get("key"), "value": t.get("value"), "effect": t.get("effect")}
                for t in group.get("taints", [])
            ],
            "scaling_config": [
                {
                    "min_size": scaling.get("minSize"),
                    "max_size": scaling.get("maxSize"),
                    "desired_size": scaling.get("desiredSize"),
                }
            ],
            "launch_template": [
                {"id": template.get("id"), "name": template.get("name"), "version": template.get("version")}
            ]
            if template
            else [],
            "update_config": [
                {
                    "max_unavailable": update.get("maxUnavailable"),
                    "max_unavailable_percentage": update.get("maxUnavailablePercentage"),
                }
            ]
            if update
            else [],
        },
        group.get("tags") or {},
    )


def _fargate(profile: dict[str, Any]) -> dict[str, Any]:
    return with_tags(
        {
            "id": f"{profile['clusterName']}:{profile['fargateProfileName']}",
            "arn": profile.get("fargateProfileArn"),
            "cluster_name": profile["clusterName"],
            "fargate_profile_name": profile["fargateProfileName"],
            "pod_execution_role_arn": profile.get("podExecutionRoleArn"),
            "subnet_ids": sorted(profile.get("subnets", [])),
            "selector": [
                {"namespace": s.get("namespace"), "labels": s.get("labels") or {}} for s in profile.get("selectors", [])
            ],
            "status": profile.get("status"),
        },
        profile.get("tags") or {},
    )


def _addon(addon: dict[str, Any]) -> dict[str, Any]:
    return with_tags(
        {
            "id": f"{addon['clusterName']}:{addon['addonName']}",
            "arn": addon.get("addonArn"),
            "cluster_name": addon["clusterName"],
            "addon_name": addon["addonName"],
            "addon_version": addon.get("addonVersion"),
            "service_account_role_arn": addon.get("serviceAccountRoleArn", ""),
            "configuration_values": addon.get("configurationValues", ""),
            "status": addon.get("status"),
        },
        addon.get("tags") or {},
    )


def cluster_names(ctx: CollectContext) -> list[str]:
    """The clusters of this environment: the one named in the options, else those carrying its tags."""
    eks = ctx.client("eks")
    if ctx.cluster_name:
        try:
            eks.describe_cluster(name=ctx.cluster_name)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise ClusterNotFound(
                    f"EKS cluster {ctx.cluster_name!r} not found in region {ctx.region}: check --region and "
                    "--cluster (or EKS_CLUSTER_NAME)"
                ) from exc
            raise
        return [ctx.cluster_name]
    names = []
    for name in paginate(eks, "list_clusters", "clusters"):
        tags = eks.describe_cluster(name=name)["cluster"].get("tags") or {}
        if ctx.in_scope(tags):
            names.append(name)
    return names


def collect(ctx: CollectContext) -> list[Resource]:
    eks = ctx.client("eks")
    out: list[Resource] = []
    for name in cluster_names(ctx):
        cluster = eks.describe_cluster(name=name)["cluster"]
        out.append(resource("aws_eks_cluster", _cluster(cluster), "name"))
        for group_name in paginate(eks, "list_nodegroups", "nodegroups", clusterName=name):
            group = eks.describe_nodegroup(clusterName=name, nodegroupName=group_name)["nodegroup"]
            out.append(resource("aws_eks_node_group", _node_group(group), "node_group_name"))
        for profile_name in paginate(eks, "list_fargate_profiles", "fargateProfileNames", clusterName=name):
            profile = eks.describe_fargate_profile(clusterName=name, fargateProfileName=profile_name)["fargateProfile"]
            out.append(resource("aws_eks_fargate_profile", _fargate(profile), "fargate_profile_name"))
        for addon_name in paginate(eks, "list_addons", "addons", clusterName=name):
            addon = eks.describe_addon(clusterName=name, addonName=addon_name)["addon"]
            out.append(resource("aws_eks_addon", _addon(addon), "id"))
        for config in paginate(eks, "list_identity_provider_configs", "identityProviderConfigs", clusterName=name):
            detail = eks.describe_identity_provider_config(
                clusterName=name, identityProviderConfig={"type": config["type"], "name": config["name"]}
            )["identityProviderConfig"].get("oidc", {})
            values = {
                "id": f"{name}:{config['name']}",
                "arn": detail.get("identityProviderConfigArn"),
                "cluster_name": name,
                "oidc": [
                    {
                        "identity_provider_config_name": config["name"],
                        "issuer_url": detail.get("issuerUrl"),
                        "client_id": detail.get("clientId"),
                        "username_claim": detail.get("usernameClaim"),
                        "groups_claim": detail.get("groupsClaim"),
                        "required_claims": detail.get("requiredClaims") or {},
                    }
                ],
            }
            out.append(resource("aws_eks_identity_provider_config", with_tags(values, detail.get("tags") or {}), "id"))
    return out
