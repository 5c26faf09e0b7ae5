"""A monthly cost estimate of a deployment, computed from its facts and the price table in ``prices.yaml``.

The output has Infracost's JSON shape (projects -> breakdown -> resources -> costComponents, costs as decimal
strings) so that tools reading Infracost output read ours. Each resource is priced by its Terraform type:
a component is an hourly or monthly quantity times a unit price. What the plan cannot know (traffic, storage
growth, spot prices, the ALB the Ingress creates) comes from the ``assumptions`` of the price table and is shown as
``usage.*`` resources, so that every number in the total can be traced to a price or an assumption.

Resource types with no cost of their own are listed in :data:`FREE_TYPES`; any other type without a pricer is
*unpriced* and reported, so that a new cost-bearing resource cannot silently leave the estimate.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.facts import Facts, Resource
from conformance.outcomes import CheckError
from reference.model import Eks

PRICES_PATH = Path(__file__).with_name("prices.yaml")

# Types that cost nothing by themselves (configuration, identity, routing) or whose cost is usage already counted
# by a usage.* line (flow logs -> log ingestion; Route 53 records -> queries, negligible).
FREE_TYPES = frozenset(
    {
        "aws_acm_certificate",  # public ACM certificates are free
        "aws_acm_certificate_validation",
        "aws_cloudwatch_log_group",  # ingestion is priced by usage.log_ingestion; storage of 30 days is negligible
        "aws_db_parameter_group",
        "aws_db_subnet_group",
        "aws_default_security_group",
        "aws_docdb_cluster_parameter_group",
        "aws_docdb_subnet_group",
        "aws_ecr_lifecycle_policy",
        "aws_eks_addon",
        "aws_eks_fargate_profile",  # pay per running pod; the burst baseline is zero pods
        "aws_elasticache_parameter_group",
        "aws_elasticache_subnet_group",
        "aws_flow_log",
        "aws_iam_instance_profile",
        "aws_iam_openid_connect_provider",
        "aws_iam_policy",
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_internet_gateway",
        "aws_kms_alias",
        "aws_launch_template",  # its volumes are priced with the node group that uses it
        "aws_route",
        "aws_route53_record",
        "aws_route_table",
        "aws_route_table_association",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_secretsmanager_secret_rotation",
        "aws_secretsmanager_secret_version",
        "aws_security_group",
        "aws_subnet",
        "aws_vpc",
        "aws_vpc_security_group_egress_rule",
        "aws_vpc_security_group_ingress_rule",
    }
)


@dataclass(frozen=True)
class CostComponent:
    name: str
    unit: str
    price: float
    hourly_quantity: float | None = None  # per hour; monthly = hourly x hours per month
    monthly_quantity: float | None = None

    def quantity(self, hours: float) -> float:
        return self.monthly_quantity if self.monthly_quantity is not None else (self.hourly_quantity or 0) * hours

    def monthly_cost(self, hours: float) -> float:
        return self.quantity(hours) * self.price


@dataclass
class ResourceCost:
    name: str
    resource_type: str
    components: list[CostComponent]
    note: str | None = None

    def monthly_cost(self, hours: float) -> float:
        return sum(c.monthly_cost(hours) for c in self.components)


@dataclass
class Estimate:
    environment: str
    hours_per_month: float
    resources: list[ResourceCost] = field(default_factory=list)
    unpriced: list[tuple[str, str]] = field(default_factory=list)  # (address, why)

    @property
    def total(self) -> float:
        return round(sum(r.monthly_cost(self.hours_per_month) for r in self.resources), 2)


class PriceTable:
    """``prices.yaml``: a price is looked up by key (and instance type); a missing one is a clear error."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.hours = float(data.get("hours_per_month", 730))
        self.assumptions: Mapping[str, float] = data.get("assumptions", {})

    def price(self, key: str) -> float:
        entry = self.data["prices"].get(key)
        if not isinstance(entry, Mapping) or "price" not in entry:
            raise KeyError(f"prices.{key}")
        return float(entry["price"])

    def instance(self, family: str, instance_type: str) -> Mapping[str, float] | None:
        spec = self.data["prices"].get(family, {}).get("instances", {}).get(instance_type)
        return spec if isinstance(spec, Mapping) else None

    def assume(self, key: str) -> float:
        return float(self.assumptions[key])


def load_prices(path: Path = PRICES_PATH) -> PriceTable:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CheckError(f"{path}: cannot read the price table: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("prices"), Mapping):
        raise CheckError(f"{path}: expected a mapping with a 'prices' section")
    return PriceTable(data)


class Unpriced(Exception):
    """A cost-bearing resource whose price is not in the table (an instance type nobody priced)."""


def _instance_price(prices: PriceTable, family: str, instance_type: Any) -> float:
    spec = prices.instance(family, str(instance_type))
    if spec is None:
        raise Unpriced(f"no {family} price for instance type {instance_type!r} in prices.yaml")
    return float(spec["price"])


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


# ------------------------------------------------------------------------------------------------ per-type pricers

Pricer = Callable[[Facts, Resource, PriceTable], list[CostComponent]]


def _eks_cluster_pricer(eks: Eks | None, day: dt.date | None) -> Pricer:
    """The control plane at the standard price, or at the extended-support price once the cluster's version has left
    standard support on ``day`` (by the calendar of ``eks``). Without a calendar: the standard price."""

    def pricer(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
        version = r.get("version")
        support = None
        if eks is not None and isinstance(version, str):
            support = eks.support(version, day or dt.date.today())
        # Past extended support EKS upgrades the cluster to the oldest version in extended support: billed the same.
        if support is not None and support.phase in ("extended", "ended"):
            return [
                CostComponent(
                    f"EKS cluster (extended support, Kubernetes {version})",
                    "hours",
                    p.price("eks_cluster_extended_support_hour"),
                    hourly_quantity=1,
                )
            ]
        return [CostComponent("EKS cluster", "hours", p.price("eks_cluster_hour"), hourly_quantity=1)]

    return pricer


def _node_volume_gib(facts: Facts, group: Resource) -> float:
    template = facts.resolve(group.get("launch_template.0.id"))
    if template is not None:
        return _number(template.get("block_device_mappings.0.ebs.0.volume_size"), 20)
    return _number(group.get("disk_size"), 20)  # the managed node group default


def _eks_node_group(facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    nodes = _number(r.get("scaling_config.0.desired_size"))
    types = [str(t) for t in r.get("instance_types") or []]
    if not types:
        raise Unpriced("node group without instance_types")
    on_demand = sum(_instance_price(p, "ec2", t) for t in types) / len(types)
    spot = r.get("capacity_type") == "SPOT"
    price = on_demand * p.assume("spot_price_ratio") if spot else on_demand
    label = f"Instance usage ({'spot, ' if spot else 'on-demand, '}{'/'.join(types)})"
    storage = nodes * _node_volume_gib(facts, r)
    return [
        CostComponent(label, "hours", round(price, 6), hourly_quantity=nodes),
        CostComponent("Node root volumes (gp3)", "GB", p.price("ebs_gp3_gb_month"), monthly_quantity=storage),
    ]


def _instance(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    components = [
        CostComponent(
            f"Instance usage (on-demand, {r.get('instance_type')})",
            "hours",
            _instance_price(p, "ec2", r.get("instance_type")),
            hourly_quantity=1,
        ),
        CostComponent(
            "Root volume (gp3)",
            "GB",
            p.price("ebs_gp3_gb_month"),
            monthly_quantity=_number(r.get("root_block_device.0.volume_size"), 8),
        ),
    ]
    if r.get("associate_public_ip_address") is True:
        components.append(CostComponent("Public IPv4 address", "hours", p.price("public_ipv4_hour"), hourly_quantity=1))
    return components


def _nat_gateway(facts: Facts, _r: Resource, p: PriceTable) -> list[CostComponent]:
    share = p.assume("nat_processed_gb_per_month") / max(1, len(facts.of_type("aws_nat_gateway")))
    return [
        CostComponent("NAT gateway", "hours", p.price("nat_gateway_hour"), hourly_quantity=1),
        CostComponent("Data processed", "GB", p.price("nat_gateway_gb"), monthly_quantity=share),
    ]


def _eip(_facts: Facts, _r: Resource, p: PriceTable) -> list[CostComponent]:
    return [CostComponent("Public IPv4 address", "hours", p.price("public_ipv4_hour"), hourly_quantity=1)]


def _vpc_endpoint(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    if r.get("vpc_endpoint_type") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    subnets = r.get("subnet_ids")
    count = len(subnets) if isinstance(subnets, list) else 1
    return [
        CostComponent(
            f"Interface endpoint ({count} AZ)", "hours", p.price("vpc_interface_endpoint_hour"), hourly_quantity=count
        )
    ]


def _db_instance(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    copies = 2 if r.get("multi_az") is True else 1
    deployment = "Multi-AZ" if copies == 2 else "Single-AZ"
    return [
        CostComponent(
            f"Database instance ({deployment}, {r.get('instance_class')})",
            "hours",
            _instance_price(p, "rds_postgres", r.get("instance_class")),
            hourly_quantity=copies,
        ),
        CostComponent(
            f"Storage (gp3, {deployment})",
            "GB",
            p.price("rds_gp3_gb_month"),
            monthly_quantity=_number(r.get("allocated_storage")) * copies,
        ),
        *_managed_master_secret(r, p),
    ]


def _replication_group(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    shards = _number(r.get("num_node_groups"), 1)
    replicas = _number(r.get("replicas_per_node_group"), 0)
    nodes = shards * (1 + replicas) if r.get("num_node_groups") is not None else _number(r.get("num_cache_clusters"), 1)
    return [
        CostComponent(
            f"ElastiCache nodes ({r.get('node_type')} x {nodes:g})",
            "hours",
            _instance_price(p, "elasticache", r.get("node_type")),
            hourly_quantity=nodes,
        )
    ]


def _docdb_instance(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    return [
        CostComponent(
            f"Database instance ({r.get('instance_class')})",
            "hours",
            _instance_price(p, "documentdb", r.get("instance_class")),
            hourly_quantity=1,
        )
    ]


def _managed_master_secret(r: Resource, p: PriceTable) -> list[CostComponent]:
    """The Secrets Manager secret a database keeps for its managed master password (no Terraform resource of its
    own, billed like any secret)."""
    if r.get("manage_master_user_password") is not True:
        return []
    return [CostComponent("Managed master password secret", "months", p.price("secret_month"), monthly_quantity=1)]


def _docdb_cluster(_facts: Facts, r: Resource, p: PriceTable) -> list[CostComponent]:
    return [
        CostComponent(
            "Storage", "GB", p.price("documentdb_storage_gb_month"), monthly_quantity=p.assume("documentdb_storage_gb")
        ),
        CostComponent(
            "I/O requests",
            "1M requests",
            p.price("documentdb_io_million"),
            monthly_quantity=p.assume("documentdb_io_million_per_month"),
        ),
        *_managed_master_secret(r, p),
    ]


def _monthly(key: str, name: str, unit: str) -> Pricer:
    def pricer(_facts: Facts, _r: Resource, p: PriceTable) -> list[CostComponent]:
        return [CostComponent(name, unit, p.price(key), monthly_quantity=1)]

    return pricer


def _ecr(_facts: Facts, _r: Resource, p: PriceTable) -> list[CostComponent]:
    return [
        CostComponent(
            "Storage", "GB", p.price("ecr_storage_gb_month"), monthly_quantity=p.assume("ecr_storage_gb_per_repository")
        )
    ]


def _s3_bucket(_facts: Facts, _r: Resource, p: PriceTable) -> list[CostComponent]:
    return [
        CostComponent(
            "Standard storage", "GB", p.price("s3_standard_gb_month"), monthly_quantity=p.assume("s3_storage_gb")
        )
    ]


PRICERS: dict[str, Pricer] = {
    "aws_eks_cluster": _eks_cluster_pricer(None, None),  # estimate() swaps in the calendar when given one
    "aws_eks_node_group": _eks_node_group,
    "aws_instance": _instance,
    "aws_nat_gateway": _nat_gateway,
    "aws_eip": _eip,
    "aws_vpc_endpoint": _vpc_endpoint,
    "aws_db_instance": _db_instance,
    "aws_elasticache_replication_group": _replication_group,
    "aws_docdb_cluster_instance": _docdb_instance,
    "aws_docdb_cluster": _docdb_cluster,
    "aws_kms_key": _monthly("kms_key_month", "Customer-managed key", "months"),
    "aws_secretsmanager_secret": _monthly("secret_month", "Secret", "months"),
    "aws_route53_zone": _monthly("route53_zone_month", "Hosted zone", "months"),
    "aws_ecr_repository": _ecr,
    "aws_s3_bucket": _s3_bucket,
}


def _usage_lines(p: PriceTable) -> list[ResourceCost]:
    """What the environment will pay for that no planned resource carries."""
    albs = p.assume("alb_count")
    return [
        ResourceCost(
            "usage.alb",
            "aws_lb",
            [
                CostComponent("Application load balancer", "hours", p.price("alb_hour"), hourly_quantity=albs),
                CostComponent("Load balancer capacity units", "LCU-hours", p.price("alb_lcu_hour"),
                              hourly_quantity=albs * p.assume("alb_lcu")),
            ],
            note="created by the AWS Load Balancer Controller from the Ingress, not by Terraform",
        ),
        ResourceCost(
            "usage.data_transfer_out",
            "data_transfer",
            [CostComponent("Data transfer out", "GB", p.price("data_transfer_out_gb"),
                           monthly_quantity=p.assume("data_transfer_out_gb_per_month"))],
            note="assumption: the seed's ~100 GB/month",
        ),
        ResourceCost(
            "usage.log_ingestion",
            "aws_cloudwatch_log_group",
            [CostComponent("Log ingestion", "GB", p.price("cloudwatch_logs_ingest_gb"),
                           monthly_quantity=p.assume("log_ingest_gb_per_month"))],
            note="control plane, Container Insights and VPC flow logs",
        ),
    ]  # fmt: skip


def estimate(
    facts: Facts, prices: PriceTable | None = None, eks: Eks | None = None, day: dt.date | None = None
) -> Estimate:
    """Price every planned resource; unpriced cost-bearing resources are listed, never silently dropped.

    ``eks`` (the reference's EKS section, with its version calendar) and ``day`` (default today) price an EKS
    control plane whose Kubernetes version has left standard support at the extended-support price.
    """
    table = prices or load_prices()
    pricers = {**PRICERS, "aws_eks_cluster": _eks_cluster_pricer(eks, day)} if eks is not None else PRICERS
    result = Estimate(facts.environment, table.hours)
    for resource in facts.resources:
        if resource.type.startswith(("data.", "k8s/")) or resource.type in FREE_TYPES:
            continue
        pricer = pricers.get(resource.type)
        if pricer is None:
            result.unpriced.append((resource.address, f"no pricer for resource type {resource.type}"))
            continue
        try:
            components = pricer(facts, resource, table)
        except (Unpriced, KeyError) as exc:
            result.unpriced.append((resource.address, str(exc).strip("'")))
            continue
        if components:
            result.resources.append(ResourceCost(resource.address, resource.type, components))
    result.resources += _usage_lines(table)
    return result


def _money(value: float) -> str:
    return f"{value:.2f}"


def to_infracost(est: Estimate) -> dict[str, Any]:
    """Infracost's ``breakdown --format json`` shape (the subset tools read)."""
    hours = est.hours_per_month
    resources = []
    for r in sorted(est.resources, key=lambda r: -r.monthly_cost(hours)):
        resources.append(
            {
                "name": r.name,
                "resourceType": r.resource_type,
                "monthlyCost": _money(r.monthly_cost(hours)),
                **({"metadata": {"note": r.note}} if r.note else {}),
                "costComponents": [
                    {
                        "name": c.name,
                        "unit": c.unit,
                        "hourlyQuantity": None if c.hourly_quantity is None else f"{c.hourly_quantity:g}",
                        "monthlyQuantity": f"{c.quantity(hours):g}",
                        "price": f"{c.price:g}",
                        "monthlyCost": _money(c.monthly_cost(hours)),
                    }
                    for c in r.components
                ],
            }
        )
    total = _money(est.total)
    return {
        "version": "0.2",
        "currency": "USD",
        "metadata": {"source": "eks-shop conformance cost model (conformance/prices.yaml, us-east-1 list prices)"},
        "projects": [
            {
                "name": f"eks-shop/{est.environment}",
                "breakdown": {"resources": resources, "totalMonthlyCost": total},
                "unpricedResources": [{"name": a, "reason": why} for a, why in est.unpriced],
            }
        ],
        "totalMonthlyCost": total,
    }


def write_estimate(est: Estimate, report_dir: Path) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"cost-estimate-{est.environment}.json"
    path.write_text(json.dumps(to_infracost(est), indent=2) + "\n", encoding="utf-8")
    return path


def summary_lines(est: Estimate, top: int = 8) -> list[str]:
    """A short human summary: total and the most expensive resources."""
    hours = est.hours_per_month
    lines = [f"estimated monthly cost of {est.environment}: ${est.total:,.2f} (us-east-1 list prices, prices.yaml)"]
    for r in sorted(est.resources, key=lambda r: -r.monthly_cost(hours))[:top]:
        lines.append(f"  {r.monthly_cost(hours):>9,.2f}  {r.name}")
    return lines
