"""Security group rules in one shape, whichever way Terraform declares them.

A rule can be an ``aws_vpc_security_group_ingress_rule`` (one per resource), an ``aws_security_group_rule`` of type
ingress, or an inline ``ingress`` block of ``aws_security_group``; all three become :class:`Rule`. Groups are known
by their role, the suffix of their name (``eks-shop-dev-postgresql`` -> ``postgresql``), as the security-groups
module names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.facts import Facts, Resource

OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


@dataclass(frozen=True)
class Rule:
    address: str
    group: Resource | None
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[str, ...]
    source_group: Resource | None
    source: Any  # the raw source reference, for messages

    def covers_port(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        if self.from_port is None or self.to_port is None:
            return True  # an unbounded rule covers everything
        return self.from_port <= port <= self.to_port

    @property
    def ports(self) -> str:
        if self.protocol in ("-1", "all"):
            return "all"
        return str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"


def role_of(group: Resource | None) -> str | None:
    if group is None:
        return None
    name = group.get("name")
    return str(name).rsplit("-", 1)[-1] if isinstance(name, str) else None


def group_by_role(facts: Facts, role: str) -> list[Resource]:
    return [
        g
        for g in facts.of_type("aws_security_group")
        if isinstance(g.get("name"), str) and g.get("name").endswith(f"-{role}")
    ]


def _port(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _cidrs(*values: Any) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        if isinstance(value, str) and value:
            found.append(value)
        elif isinstance(value, list):
            found += [v for v in value if isinstance(v, str)]
    return tuple(found)


def ingress_rules(facts: Facts) -> list[Rule]:
    rules = []
    for r in facts.of_type("aws_vpc_security_group_ingress_rule"):
        rules.append(
            Rule(
                r.address,
                facts.resolve(r.get("security_group_id")),
                str(r.get("ip_protocol")),
                _port(r.get("from_port")),
                _port(r.get("to_port")),
                _cidrs(r.get("cidr_ipv4"), r.get("cidr_ipv6")),
                facts.resolve(r.get("referenced_security_group_id")),
                r.get("referenced_security_group_id"),
            )
        )
    for r in facts.of_type("aws_security_group_rule"):
        if r.get("type") != "ingress":
            continue
        rules.append(
            Rule(
                r.address,
                facts.resolve(r.get("security_group_id")),
                str(r.get("protocol")),
                _port(r.get("from_port")),
                _port(r.get("to_port")),
                _cidrs(r.get("cidr_blocks"), r.get("ipv6_cidr_blocks")),
                facts.resolve(r.get("source_security_group_id")),
                r.get("source_security_group_id"),
            )
        )
    for group in facts.of_type("aws_security_group", "aws_default_security_group"):
        blocks = group.get("ingress")
        for block in blocks if isinstance(blocks, list) else []:  # unknown in a plan when no block is declared
            if not isinstance(block, dict):
                continue
            sources = block.get("security_groups") or []
            source_group = facts.resolve(sources[0]) if isinstance(sources, list) and len(sources) == 1 else None
            rules.append(
                Rule(
                    group.address,
                    group,
                    str(block.get("protocol")),
                    _port(block.get("from_port")),
                    _port(block.get("to_port")),
                    _cidrs(block.get("cidr_blocks"), block.get("ipv6_cidr_blocks")),
                    source_group,
                    sources,
                )
            )
    return rules


def attached_groups(facts: Facts, value: Any) -> list[Any]:
    """The security groups an attribute such as ``vpc_security_group_ids`` names (one value or a list)."""
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    return [facts.resolve(v) or v for v in values]
