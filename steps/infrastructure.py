"""Steps about the cloud infrastructure: network, clusters, data stores, identity, encryption, cost.

Every step reads facts (Terraform-shaped resources) and so runs unchanged on a plan or on a live account.
"""

from __future__ import annotations

from pytest_bdd import given, parsers, then

from conformance.checks import expect_each, fail_if, require_source, select
from conformance.facts import Facts, Resource
from conformance.outcomes import NotObservable, RequirementFailed, Violation
from conformance.views.network import DEFAULT_ROUTE, subnet_routes, tier_of
from reference import Architecture

INFRASTRUCTURE_SOURCES = ("aws", "terraform")


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@given("the infrastructure of the environment", target_fixture="infra")
def infra(facts: Facts) -> Facts:
    """Infrastructure facts: live AWS reads where the target has them, else the Terraform plan."""
    for source in INFRASTRUCTURE_SOURCES:
        if source in facts.sources:
            return facts
    for source in INFRASTRUCTURE_SOURCES:
        if source in facts.errors or source in facts.unavailable:
            require_source(facts, source)
    raise NotObservable(f"target {facts.target!r} observes no infrastructure")


# ---------------------------------------------------------------------------------------------------------- network


@then(parsers.parse("there is exactly {count:d} VPC"))
def exactly_n_vpcs(infra: Facts, count: int) -> None:
    vpcs = infra.of_type("aws_vpc")
    if len(vpcs) != count:
        raise RequirementFailed(
            "wrong number of VPCs",
            [Violation(v.address, "count", count, len(vpcs)) for v in vpcs]
            or [Violation(f"<{infra.target}:{infra.environment}>", "aws_vpc count", count, 0)],
        )


@then(parsers.parse('every VPC has the CIDR block "{cidr}"'))
def vpc_cidr(infra: Facts, cidr: str) -> None:
    expect_each(select(infra, "aws_vpc"), "cidr_block", cidr)


@then("every VPC has DNS support and DNS host names enabled")
def vpc_dns(infra: Facts) -> None:
    vpcs = select(infra, "aws_vpc")
    expect_each(vpcs, "enable_dns_support", True)
    expect_each(vpcs, "enable_dns_hostnames", True)


def _tier(infra: Facts, tier: str) -> list[Resource]:
    return select(infra, "aws_subnet", lambda s: tier_of(s) == tier, what=f"subnets tagged Tier={tier}")


@then(parsers.parse('the "{tier}" subnets have exactly the CIDR blocks "{cidrs}"'))
def tier_cidrs(infra: Facts, tier: str, cidrs: str) -> None:
    expected = set(_csv(cidrs))
    found = {str(s.get("cidr_block")): s for s in _tier(infra, tier)}
    violations = [
        Violation(subnet.address, "cidr_block", f"one of {sorted(expected)}", cidr)
        for cidr, subnet in found.items()
        if cidr not in expected
    ]
    violations += [
        Violation(f"<{tier} subnets>", "cidr_block", cidr, "missing") for cidr in sorted(expected - set(found))
    ]
    fail_if(violations, f"the {tier} subnets do not have exactly the reference CIDR blocks")


@then(parsers.parse('the "{tier}" subnets are in {count:d} distinct availability zones'))
def tier_azs(infra: Facts, tier: str, count: int) -> None:
    members = _tier(infra, tier)
    zones: dict[str, list[str]] = {}
    for subnet in members:
        zones.setdefault(str(subnet.get("availability_zone")), []).append(subnet.address)
    violations = []
    if len(zones) != count:
        violations += [
            Violation(subnet.address, "availability_zone", f"{count} distinct zones across the tier", zone)
            for zone, addresses in sorted(zones.items())
            for subnet in members
            if subnet.address in addresses and len(addresses) > 1
        ] or [Violation(f"<{tier} subnets>", "distinct availability zones", count, len(zones))]
    fail_if(violations, f"the {tier} subnets do not span {count} availability zones")


@then(parsers.parse('no "{tier}" subnet assigns public IP addresses'))
def no_public_ips(infra: Facts, tier: str) -> None:
    expect_each(_tier(infra, tier), "map_public_ip_on_launch", False, ok=lambda v: v in (False, None))


@then("the number of NAT gateways is the environment's reference count")
def nat_count(infra: Facts, architecture: Architecture) -> None:
    expected = architecture.environments[infra.environment].nat_gateways  # type: ignore[index]
    nats = infra.of_type("aws_nat_gateway")
    if len(nats) != expected:
        raise RequirementFailed(
            f"{infra.environment} needs {expected} NAT gateway(s)",
            [Violation(n.address, "NAT gateways in the environment", expected, len(nats)) for n in nats]
            or [Violation(f"<{infra.target}:{infra.environment}>", "NAT gateways", expected, 0)],
        )


@then(parsers.parse('every NAT gateway sits in a "{tier}" subnet, each in a different availability zone'))
def nat_placement(infra: Facts, tier: str) -> None:
    violations = []
    seen: dict[str, str] = {}
    for nat in select(infra, "aws_nat_gateway"):
        subnet = infra.resolve(nat.get("subnet_id"))
        if subnet is None or tier_of(subnet) != tier:
            found = "no known subnet" if subnet is None else f"{subnet.address} (Tier={tier_of(subnet)})"
            violations.append(Violation(nat.address, "subnet_id", f"a {tier} subnet", found))
            continue
        zone = str(subnet.get("availability_zone"))
        if zone in seen:
            violations.append(Violation(nat.address, "availability_zone", f"not shared with {seen[zone]}", zone))
        seen[zone] = nat.address
    fail_if(violations, "NAT gateways are misplaced")


def _default_route_kinds(infra: Facts, subnet: Resource) -> set[str]:
    return {r.kind for r in subnet_routes(infra, subnet) if r.destination == DEFAULT_ROUTE}


@then(parsers.parse('every "{tier}" subnet routes 0.0.0.0/0 to an internet gateway'))
def routes_to_igw(infra: Facts, tier: str) -> None:
    expect_each(_tier(infra, tier), "default route", {"igw"}, read=lambda s: _default_route_kinds(infra, s))


@then(parsers.parse('every "{tier}" subnet routes 0.0.0.0/0 to a NAT gateway'))
def routes_to_nat(infra: Facts, tier: str) -> None:
    expect_each(_tier(infra, tier), "default route", {"nat"}, read=lambda s: _default_route_kinds(infra, s))


@then(parsers.parse('no "{tier}" subnet has a route to an internet gateway or a NAT gateway'))
def no_internet_route(infra: Facts, tier: str) -> None:
    violations = [
        Violation(subnet.address, f"route {route.destination}", "no internet or NAT gateway", route.kind)
        for subnet in _tier(infra, tier)
        for route in subnet_routes(infra, subnet)
        if route.kind in ("igw", "nat", "unknown")
    ]
    fail_if(violations, f"{tier} subnets can reach the internet")
