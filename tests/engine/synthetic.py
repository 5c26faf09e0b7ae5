"""Small hand-made plans in `terraform show -json` shape, for testing the engine without running Terraform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
TIERS = {"public": 1, "app": 10, "data": 20}
ENDPOINT_CIDRS = ["10.0.30.0/27", "10.0.30.32/27", "10.0.30.64/27"]  # one /27 per AZ, as the vpc module carves them


def _change(type_: str, name: str, index: Any, after: dict[str, Any], unknown: dict[str, Any]) -> dict[str, Any]:
    suffix = f"[{json.dumps(index)}]" if index is not None else ""
    return {
        "address": f"module.vpc.{type_}.{name}{suffix}",
        "module_address": "module.vpc",
        "mode": "managed",
        "type": type_,
        "name": name,
        "index": index,
        "change": {"actions": ["create"], "after": after, "after_unknown": unknown},
    }


def network_plan(nat_azs: list[str] | None = None, tiers: dict[str, int] | None = None) -> dict[str, Any]:
    """A dev-shaped network: one VPC, three /24 tiers and the endpoint tier over three AZs, NAT gateways in the
    given AZs."""
    nat_azs = ["us-east-1a"] if nat_azs is None else nat_azs
    tiers = TIERS if tiers is None else tiers
    changes = [
        _change(
            "aws_vpc",
            "this",
            None,
            {"cidr_block": "10.0.0.0/16", "enable_dns_support": True, "enable_dns_hostnames": True},
            {"id": True},
        )
    ]
    config_resources = []
    for tier, offset in tiers.items():
        for position, az in enumerate(AZS):
            after = {
                "cidr_block": f"10.0.{offset + position}.0/24",
                "availability_zone": az,
                "map_public_ip_on_launch": False,
                "tags": {"Tier": tier},
            }
            changes.append(_change("aws_subnet", tier, az, after, {"id": True, "vpc_id": True}))
    for az, cidr in zip(AZS, ENDPOINT_CIDRS, strict=True):
        after = {
            "cidr_block": cidr,
            "availability_zone": az,
            "map_public_ip_on_launch": False,
            "tags": {"Tier": "endpoint"},
        }
        changes.append(_change("aws_subnet", "endpoint", az, after, {"id": True, "vpc_id": True}))
    for az in nat_azs:
        changes.append(_change("aws_nat_gateway", "this", az, {}, {"id": True, "subnet_id": True}))
    config_resources.append(
        {
            "address": "aws_nat_gateway.this",
            "mode": "managed",
            "type": "aws_nat_gateway",
            "name": "this",
            "expressions": {"subnet_id": {"references": ["aws_subnet.public", "each.key"]}},
        }
    )
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "resource_changes": changes,
        "configuration": {"root_module": {"module_calls": {"vpc": {"module": {"resources": config_resources}}}}},
    }


def write_plan(tmp_path: Path, plan: dict[str, Any]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path
