"""Steps about the EKS cluster, its node groups, add-ons and availability zones (features/eks.feature,
features/availability.feature). Terraform-shaped facts, so plan and live account alike."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from pytest_bdd import parsers, then

from conformance.checks import expect_each, fail_if, select
from conformance.cost import PriceTable, load_prices
from conformance.facts import Facts, Ref, Resource, Unknown
from conformance.outcomes import CheckError, RequirementFailed, Violation
from conformance.views.encryption import describe_key, kms_key
from conformance.views.irsa import role_for_subject, role_of_arn, subject
from conformance.views.network import tier_of
from reference import Architecture
from reference.model import VersionSupport

# The day a version's EKS support is judged on (REQ-EKS-011, and the control-plane price in the cost estimate):
# today, unless this variable holds a date YYYY-MM-DD. Tests pin it; a release manager can ask "will the version
# still be in standard support on the day we ship?" with CONFORMANCE_RUN_DATE=2027-03-01.
RUN_DATE_VARIABLE = "CONFORMANCE_RUN_DATE"
CALENDAR = "reference/architecture.yaml eks.versions"


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _version(text: Any) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return ()


def _env_marker(infra: Facts) -> str:
    return f"<{infra.target}:{infra.environment}>"


def _clusters(infra: Facts) -> list[Resource]:
    return select(infra, "aws_eks_cluster", what="EKS clusters")


def _node_groups(infra: Facts) -> list[Resource]:
    return select(infra, "aws_eks_node_group", what="EKS managed node groups")


# ---------------------------------------------------------------------------------------------------- control plane


@then(parsers.parse("there is exactly {count:d} EKS cluster"))
def exactly_n_clusters(infra: Facts, count: int) -> None:
    clusters = infra.of_type("aws_eks_cluster")
    if len(clusters) != count:
        raise RequirementFailed(
            "wrong number of EKS clusters",
            [Violation(c.address, "count", count, len(clusters)) for c in clusters]
            or [Violation(_env_marker(infra), "aws_eks_cluster count", count, 0)],
        )


@then("every EKS cluster runs Kubernetes at least the reference's minimum version")
def cluster_version(infra: Facts, architecture: Architecture) -> None:
    minimum = architecture.eks.min_version
    expect_each(
        _clusters(infra),
        "version",
        f">= {minimum}",
        ok=lambda v: bool(_version(v)) and _version(v) >= _version(minimum),
    )


def run_date() -> dt.date:
    """Today, or the date in $CONFORMANCE_RUN_DATE; a malformed date is an error (never silently today)."""
    text = os.environ.get(RUN_DATE_VARIABLE, "").strip()
    if not text:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CheckError(f"${RUN_DATE_VARIABLE}: expected a date YYYY-MM-DD, found {text!r}") from exc


def _out_of_standard_support(support: VersionSupport, prices: PriceTable) -> str:
    """What a person needs to act: which support ended when, and what staying costs."""
    entry, version = support.calendar, support.version
    if support.phase == "unreleased":
        return f"{version}: not released on EKS until {entry.released}"
    ended = f"{version}: standard support ended {entry.standard_support_until}"
    if support.phase == "extended":
        return (
            f"{ended}; in extended support until {entry.extended_support_until}, billed "
            f"${prices.price('eks_cluster_extended_support_hour'):.2f} instead of "
            f"${prices.price('eks_cluster_hour'):.2f} per cluster-hour"
        )
    return (
        f"{ended}, extended support ended {entry.extended_support_until}: EKS creates no new cluster on it "
        "and upgrades existing ones itself"
    )


@then("every EKS cluster runs a Kubernetes version in EKS standard support on the day of the run")
def cluster_version_supported(infra: Facts, architecture: Architecture) -> None:
    # The seed's "1.29 (or latest stable)" decays: 1.29 left standard support 14 months after release. Judging the
    # version against the calendar on the day of the run makes the suite turn red when that happens again.
    day = run_date()
    eks = architecture.eks
    prices = load_prices()
    expected = f"a version in EKS standard support on {day} (the reference runs {eks.version})"
    violations = []
    for cluster in _clusters(infra):
        version = cluster.get("version")
        if not isinstance(version, str):
            violations.append(Violation(cluster.address, "version", expected, f"{version!r} (not a version)"))
            continue
        support = eks.support(version, day)
        if support is None:
            violations.append(
                Violation(
                    cluster.address,
                    "version",
                    expected,
                    f"{version}: not in the version calendar {CALENDAR}; add it with its EKS support dates",
                )
            )
        elif not support.standard:
            found = _out_of_standard_support(support, prices)
            violations.append(Violation(cluster.address, "version", expected, found))
    fail_if(violations, f"the cluster's Kubernetes version is not in EKS standard support on {day}")


def _minor(version: Any) -> tuple[int, int] | None:
    """(major, minor) of "1.35", "1.35.2" or "v1.35"; None for anything else (unknown, unset, not a version)."""
    parts = _version(str(version).removeprefix("v")) if isinstance(version, str) else ()
    return (parts[0], parts[1]) if len(parts) >= 2 else None


def _cluster_of(group: Resource, clusters: list[Resource]) -> Resource | None:
    """The cluster a node group belongs to: by name, by the plan's reference, or the only cluster there is."""
    name = group.get("cluster_name")
    if isinstance(name, (Ref, Unknown)):
        mine = [c for c in clusters if c.address == name.address]
    else:
        mine = [c for c in clusters if c.get("name") == name]
    if not mine and len(clusters) == 1 and isinstance(name, (Ref, Unknown)):
        mine = clusters
    return mine[0] if len(mine) == 1 else None


@then("every managed node group runs the Kubernetes minor version of its cluster")
def node_group_version(infra: Facts) -> None:
    # Strictly the cluster's minor, not the skew Kubernetes tolerates (kubelets up to three minors older): EKS
    # upgrades a control plane only once every node group runs its minor, and a group left one minor behind is
    # on a version the cluster's standard-support check above never looks at.
    clusters = _clusters(infra)
    violations = []
    for group in _node_groups(infra):
        cluster = _cluster_of(group, clusters)
        version = group.get("version")
        if cluster is None:
            found = f"{version} (its cluster {group.get('cluster_name')} is not among {[c.address for c in clusters]})"
            violations.append(Violation(group.address, "version", "the Kubernetes minor of its cluster", found))
            continue
        wanted = _minor(cluster.get("version"))
        if wanted is None:
            continue  # the cluster's own version is not a version: the step above reports it
        expected = f"{wanted[0]}.{wanted[1]} (the minor of {cluster.address})"
        if isinstance(version, Ref) and version.address == cluster.address and version.attribute == "version":
            continue  # the plan ties the group to the cluster's version
        if isinstance(version, (Ref, Unknown)) or version is None:
            found = (
                f"{version} (not set: the group would stay on its first version when the cluster is upgraded; "
                "set version = var.cluster_version)"
            )
            violations.append(Violation(group.address, "version", expected, found))
        elif _minor(version) != wanted:
            violations.append(Violation(group.address, "version", expected, version))
    fail_if(violations, "a managed node group does not run its cluster's Kubernetes minor version")


@then("every EKS cluster has its private API endpoint enabled")
def private_endpoint(infra: Facts) -> None:
    expect_each(_clusters(infra), "vpc_config.0.endpoint_private_access", True)


@then("no EKS cluster exposes its public API endpoint to 0.0.0.0/0")
def public_endpoint_restricted(infra: Facts) -> None:
    violations = []
    for cluster in _clusters(infra):
        if cluster.get("vpc_config.0.endpoint_public_access") is False:
            continue
        cidrs = cluster.get("vpc_config.0.public_access_cidrs")
        # The API's default for an unset list is 0.0.0.0/0: unset counts as open.
        if not isinstance(cidrs, list) or not cidrs or any(c in ("0.0.0.0/0", "::/0") for c in cidrs):
            violations.append(
                Violation(cluster.address, "vpc_config.public_access_cidrs", "restricted operator CIDRs", cidrs)
            )
    fail_if(violations, "the public API endpoint is open to the internet")


@then("every EKS cluster enables all the reference's control-plane log types")
def log_types(infra: Facts, architecture: Architecture) -> None:
    wanted = set(architecture.eks.control_plane_log_types)
    expect_each(
        _clusters(infra),
        "enabled_cluster_log_types",
        sorted(wanted),
        ok=lambda v: isinstance(v, list) and wanted <= set(v),
    )


@then("the EKS control-plane log group exists with a retention period")
def control_plane_log_group(infra: Facts) -> None:
    violations = []
    for cluster in _clusters(infra):
        name = f"/aws/eks/{cluster.get('name')}/cluster"
        groups = [g for g in infra.of_type("aws_cloudwatch_log_group") if g.get("name") == name]
        if not groups:
            violations.append(
                Violation(
                    cluster.address, "log group", name, "missing (EKS would create it unencrypted, never expiring)"
                )
            )
        violations += [
            Violation(g.address, "retention_in_days", "> 0", g.get("retention_in_days"))
            for g in groups
            if not (isinstance(g.get("retention_in_days"), int) and g.get("retention_in_days") > 0)
        ]
    fail_if(violations, "the control-plane log group is missing or never expires")


def _issuer_matches(provider: Resource, cluster: Resource) -> bool:
    url = provider.get("url")
    if isinstance(url, (Ref, Unknown)):
        return url.address == cluster.address  # a plan: the provider's url is the cluster's identity
    issuer = cluster.get("identity.0.oidc.0.issuer")
    return (
        isinstance(url, str)
        and isinstance(issuer, str)
        and url.removeprefix("https://") == issuer.removeprefix("https://")
    )


@then(parsers.parse('the cluster\'s OIDC issuer is an IAM OIDC provider with the audience "{audience}"'))
def oidc_provider(infra: Facts, audience: str) -> None:
    violations = []
    providers = infra.of_type("aws_iam_openid_connect_provider")
    for cluster in _clusters(infra):
        mine = [p for p in providers if _issuer_matches(p, cluster)]
        if not mine:
            violations.append(Violation(cluster.address, "OIDC provider", "one for the cluster's issuer", "none"))
        violations += [
            Violation(p.address, "client_id_list", [audience], p.get("client_id_list"))
            for p in mine
            if p.get("client_id_list") != [audience]
        ]
    fail_if(violations, "IRSA has no OIDC provider for the cluster")


# ------------------------------------------------------------------------------------------------------ node groups


@then("the managed node groups are exactly the reference's")
def node_group_names(infra: Facts, architecture: Architecture) -> None:
    wanted = set(architecture.eks.node_groups)
    groups = _node_groups(infra)
    found = {str(g.get("node_group_name")) for g in groups}
    violations = [
        Violation(g.address, "node_group_name", f"one of {sorted(wanted)}", g.get("node_group_name"))
        for g in groups
        if g.get("node_group_name") not in wanted
    ]
    violations += [Violation(_env_marker(infra), "node group", name, "missing") for name in sorted(wanted - found)]
    fail_if(violations, "the node groups are not the reference's")


@then("every node group has the reference's instance types and capacity type")
def node_group_types(infra: Facts, architecture: Architecture) -> None:
    violations = []
    for group in _node_groups(infra):
        spec = architecture.eks.node_groups.get(str(group.get("node_group_name")))
        if spec is None:
            continue  # reported by the exact-set step
        if sorted(group.get("instance_types") or []) != sorted(spec.instance_types):
            violations.append(
                Violation(group.address, "instance_types", spec.instance_types, group.get("instance_types"))
            )
        if (group.get("capacity_type") or "ON_DEMAND") != spec.capacity_type:
            violations.append(Violation(group.address, "capacity_type", spec.capacity_type, group.get("capacity_type")))
    fail_if(violations, "node groups differ from the reference's instance types or capacity")


@then("every node group's scaling bounds lie inside the reference's minimum and maximum")
def node_group_sizes(infra: Facts, architecture: Architecture) -> None:
    violations = []
    for group in _node_groups(infra):
        spec = architecture.eks.node_groups.get(str(group.get("node_group_name")))
        if spec is None:
            continue
        low, desired, high = (group.get(f"scaling_config.0.{k}") for k in ("min_size", "desired_size", "max_size"))
        ok = all(isinstance(v, int) for v in (low, desired, high)) and spec.min <= low <= desired <= high <= spec.max
        if not ok:
            violations.append(
                Violation(
                    group.address,
                    "scaling_config (min <= desired <= max)",
                    f"within {spec.min}..{spec.max}",
                    f"{low} <= {desired} <= {high}",
                )
            )
    fail_if(violations, "node group sizes leave the seed's ranges")


@then(parsers.parse('every "{capacity}" node group has at least {count:d} instance types of the same vCPU and memory'))
def spot_diversity(infra: Facts, capacity: str, count: int) -> None:
    prices = load_prices()
    violations = []
    for group in select(
        infra, "aws_eks_node_group", lambda g: g.get("capacity_type") == capacity, f"{capacity} node groups"
    ):
        types = [str(t) for t in group.get("instance_types") or []]
        sizes = {t: (spec["vcpu"], spec["memory_gib"]) if (spec := prices.instance("ec2", t)) else None for t in types}
        if len(types) < count or None in sizes.values() or len(set(sizes.values())) != 1:
            violations.append(
                Violation(group.address, "instance_types (vCPU, GiB)", f">= {count} types of one size", sizes)
            )
    fail_if(violations, "spot node groups are not diversified over one instance size")


def _launch_templates(infra: Facts) -> list[Resource]:
    templates = []
    for group in _node_groups(infra):
        template = infra.resolve(group.get("launch_template.0.id"))
        if template is not None:
            templates.append(template)
    if not templates:
        raise RequirementFailed(
            "no node group uses a launch template",
            [Violation(_env_marker(infra), "launch_template", "a launch template per node group", "none")],
        )
    return list({t.address: t for t in templates}.values())


@then("every node group uses a launch template")
def node_groups_use_templates(infra: Facts) -> None:
    expect_each(
        _node_groups(infra),
        "launch_template",
        "a launch template of this deployment",
        read=lambda g: t.address if (t := infra.resolve(g.get("launch_template.0.id"))) else None,
        ok=lambda v: v is not None,
    )


@then("every node launch template requires IMDSv2 with a hop limit of 1")
def template_imds(infra: Facts) -> None:
    templates = _launch_templates(infra)
    expect_each(templates, "metadata_options.0.http_tokens", "required")
    expect_each(templates, "metadata_options.0.http_put_response_hop_limit", 1)


def _truthy(value: Any) -> bool:
    return value is True or value == "true"  # launch templates carry encrypted as the string "true"


@then("every node launch template encrypts its volumes with a customer-managed KMS key")
def template_volumes(infra: Facts) -> None:
    violations = []
    for template in _launch_templates(infra):
        mappings = template.get("block_device_mappings") or []
        if not mappings:
            violations.append(Violation(template.address, "block_device_mappings", "an encrypted root volume", "none"))
        for position, mapping in enumerate(mappings):
            ebs = (mapping.get("ebs") or [{}])[0] if isinstance(mapping, dict) else {}
            if not _truthy(ebs.get("encrypted")):
                violations.append(
                    Violation(
                        template.address, f"block_device_mappings.{position}.ebs.encrypted", True, ebs.get("encrypted")
                    )
                )
            elif kms_key(infra, ebs.get("kms_key_id")) is None:
                violations.append(
                    Violation(
                        template.address,
                        f"block_device_mappings.{position}.ebs.kms_key_id",
                        "a customer-managed key",
                        describe_key(infra, ebs.get("kms_key_id")),
                    )
                )
    fail_if(violations, "node volumes are not encrypted with a customer-managed key")


@then("the Fargate profiles are exactly the reference's")
def fargate_profiles(infra: Facts, architecture: Architecture) -> None:
    wanted = set(architecture.eks.fargate_profiles)
    profiles = select(infra, "aws_eks_fargate_profile", what="Fargate profiles")
    found = {str(p.get("fargate_profile_name")) for p in profiles}
    violations = [
        Violation(p.address, "fargate_profile_name", sorted(wanted), p.get("fargate_profile_name"))
        for p in profiles
        if p.get("fargate_profile_name") not in wanted
    ]
    violations += [Violation(_env_marker(infra), "Fargate profile", n, "missing") for n in sorted(wanted - found)]
    fail_if(violations, "the Fargate profiles are not the reference's")


def _subnets(infra: Facts, value: Any) -> list[Resource | None]:
    values = value if isinstance(value, list) else [value] if value else []
    return [infra.resolve(v) for v in values]


@then("every Fargate profile selects pods in private application subnets")
def fargate_subnets(infra: Facts) -> None:
    expect_each(
        select(infra, "aws_eks_fargate_profile"),
        "subnet_ids",
        "only app subnets",
        read=lambda p: sorted({str(tier_of(s)) if s else "unknown" for s in _subnets(infra, p.get("subnet_ids"))}),
        ok=lambda tiers: tiers == ["app"],
    )


# ------------------------------------------------------------------------------------------------------------ add-ons


@then("the EKS add-ons are exactly the reference's")
def addons(infra: Facts, architecture: Architecture) -> None:
    wanted = set(architecture.eks.addons)
    found_addons = select(infra, "aws_eks_addon", what="EKS add-ons")
    found = {str(a.get("addon_name")) for a in found_addons}
    violations = [
        Violation(a.address, "addon_name", sorted(wanted), a.get("addon_name"))
        for a in found_addons
        if a.get("addon_name") not in wanted
    ]
    violations += [Violation(_env_marker(infra), "add-on", n, "missing") for n in sorted(wanted - found)]
    fail_if(violations, "the EKS add-ons are not the reference's")


@then(parsers.parse('the "{addon}" add-on uses the IRSA role of "{service_account}"'))
def addon_role(infra: Facts, addon: str, service_account: str) -> None:
    namespace, name = service_account.split("/", 1)
    expected = role_for_subject(infra, subject(namespace, name))
    violations = []
    for item in select(infra, "aws_eks_addon", lambda a: a.get("addon_name") == addon, f"the {addon} add-on"):
        candidates = role_of_arn(infra, item.get("service_account_role_arn"))
        # A plan may not narrow the reference to one role; then the right role must be among its candidates.
        if not expected or not candidates or not {r.address for r in expected} & {r.address for r in candidates}:
            violations.append(
                Violation(
                    item.address,
                    "service_account_role_arn",
                    f"the role trusting {service_account}",
                    [r.address for r in candidates] or item.get("service_account_role_arn"),
                )
            )
    fail_if(violations, f"the {addon} add-on does not use its own IRSA role")


@then("every node group is tagged for cluster-autoscaler auto-discovery of its cluster")
def autoscaler_tags(infra: Facts) -> None:
    violations = []
    for group in _node_groups(infra):
        tags = group.tags
        cluster = group.get("cluster_name")
        for key, value in (
            ("k8s.io/cluster-autoscaler/enabled", "true"),
            (f"k8s.io/cluster-autoscaler/{cluster}", "owned"),
        ):
            if tags.get(key) != value:
                violations.append(Violation(group.address, f"tags[{key}]", value, tags.get(key)))
    fail_if(violations, "node groups are invisible to the cluster-autoscaler")


# ------------------------------------------------------------------------------------------------------ availability


@then(parsers.parse('the subnets of every tier cover the availability zones "{zones}"'))
def tiers_cover_zones(infra: Facts, zones: str) -> None:
    wanted = set(_csv(zones))
    subnets = select(infra, "aws_subnet", what="subnets")
    by_tier: dict[str, set[str]] = {}
    for subnet in subnets:
        by_tier.setdefault(str(tier_of(subnet)), set()).add(str(subnet.get("availability_zone")))
    # Every subnet of a tier that misses a zone is named: one of them has to move.
    violations = [
        Violation(
            subnet.address, "availability_zone", f"tier {tier} across {sorted(wanted)}", f"tier in {sorted(found)}"
        )
        for tier, found in sorted(by_tier.items())
        if not wanted <= found
        for subnet in subnets
        if str(tier_of(subnet)) == tier
    ]
    fail_if(violations, "a subnet tier does not span the reference availability zones")


@then(parsers.parse("every node group and Fargate profile uses subnets in {count:d} distinct availability zones"))
def compute_zones(infra: Facts, count: int) -> None:
    members = _node_groups(infra) + infra.of_type("aws_eks_fargate_profile")

    def zones(resource: Resource) -> list[str]:
        return sorted(
            {str(s.get("availability_zone")) if s else "unknown" for s in _subnets(infra, resource.get("subnet_ids"))}
        )

    expect_each(members, "subnet_ids (availability zones)", f"{count} distinct zones", read=zones,
                ok=lambda z: len(z) >= count and "unknown" not in z)  # fmt: skip
