"""Network relations derived from facts: which subnets form a tier, where a subnet's traffic goes.

Works the same on plan facts (joins through :class:`~conformance.facts.Ref`) and live facts (joins through ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.facts import Facts, Resource

DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True)
class Route:
    destination: str
    kind: str  # igw, nat, vpce, local, peering, other, unknown
    target: Any


def tier_of(subnet: Resource) -> str | None:
    return subnet.tags.get("Tier")


def subnets(facts: Facts, tier: str | None = None) -> list[Resource]:
    return [s for s in facts.of_type("aws_subnet") if tier is None or tier_of(s) == tier]


def route_tables_of(facts: Facts, subnet: Resource) -> list[Resource]:
    """The route tables a subnet uses: its explicit association, or else its VPC's main route table."""
    tables = []
    for association in facts.of_type("aws_route_table_association"):
        if association.get("subnet_id") == subnet.id:
            table = facts.resolve(association.get("route_table_id"))
            if table is not None:
                tables.append(table)
    if tables:
        return tables
    vpc_id = subnet.get("vpc_id")
    main = [t for t in facts.of_type("aws_default_route_table") if t.get("vpc_id") == vpc_id]
    main += [
        t
        for t in facts.of_type("aws_route_table")
        if t.get("vpc_id") == vpc_id and t.values.get("main") is True  # live read-back marks the main table
    ]
    return main


def _classify(facts: Facts, route: dict[str, Any]) -> tuple[str, Any]:
    for key, kind in (
        ("nat_gateway_id", "nat"),
        ("gateway_id", "gateway"),
        ("vpc_endpoint_id", "vpce"),
        ("vpc_peering_connection_id", "peering"),
        ("transit_gateway_id", "other"),
        ("network_interface_id", "other"),
        ("egress_only_gateway_id", "other"),
    ):
        value = route.get(key)
        if value in (None, ""):
            continue
        if kind != "gateway":
            return kind, value
        if value == "local":
            return "local", value
        target = facts.resolve(value)
        if target is not None:
            return {"aws_internet_gateway": "igw", "aws_nat_gateway": "nat"}.get(target.type, "other"), value
        if isinstance(value, str) and value.startswith("igw-"):
            return "igw", value
        return "unknown", value
    return "local", None


def routes_of(facts: Facts, table: Resource) -> list[Route]:
    """Inline routes of the table plus separate aws_route resources pointing at it."""
    inline = table.get("route")
    # A plan leaves inline routes unknown when the table declares none (aws_route resources add them instead).
    raw = [r for r in inline if isinstance(r, dict)] if isinstance(inline, list) else []
    raw += [dict(r.values) for r in facts.of_type("aws_route") if r.get("route_table_id") == table.id]
    routes = []
    for route in raw:
        destination = route.get("cidr_block") or route.get("destination_cidr_block") or route.get("ipv6_cidr_block")
        kind, target = _classify(facts, route)
        routes.append(Route(str(destination), kind, target))
    return routes


def subnet_routes(facts: Facts, subnet: Resource) -> list[Route]:
    return [route for table in route_tables_of(facts, subnet) for route in routes_of(facts, table)]
