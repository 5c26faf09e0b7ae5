"""Steps about network security (features/network-security.feature): security groups, the SSM-only bastion,
the edge certificate, the default group and the VPC endpoints."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then

from conformance.checks import expect_each, fail_if, select
from conformance.facts import Facts, Ref, Resource, Unknown
from conformance.outcomes import Violation
from conformance.views.encryption import kms_key
from conformance.views.irsa import (
    managed_policy_arns,
    role_named,
)
from conformance.views.network import tier_of
from conformance.views.security_groups import OPEN_CIDRS, attached_groups, group_by_role, ingress_rules, role_of
from reference import Architecture

# Managed policies that amount to "everything": attaching one is the same as a "*" on "*" statement.


def _not_declared(resource: Resource, value: Any) -> bool:
    """A computed attribute Terraform was not given: in a plan, a Ref to the resource itself."""
    return value in (None, "", []) or (isinstance(value, (Ref, Unknown)) and value.address == resource.address)


# ----------------------------------------------------------------------------------------------------- security groups


def _describe_source(rule: Any) -> str:
    if rule.cidrs:
        return ",".join(rule.cidrs)
    return role_of(rule.source_group) or str(rule.source)


@then(parsers.parse('the "{role}" security group admits only the "{source}" security group on port {port:d}'))
def database_group(infra: Facts, role: str, source: str, port: int) -> None:
    groups = group_by_role(infra, role)
    if not groups:
        select(infra, "aws_security_group", lambda _g: False, f"the {role} security group")
    violations = []
    for group in groups:
        rules = [r for r in ingress_rules(infra) if r.group is group]
        if not rules:
            violations.append(Violation(group.address, "ingress", f"{port} from {source}", "no ingress rule"))
        for rule in rules:
            good = (
                role_of(rule.source_group) == source
                and not rule.cidrs
                and rule.protocol == "tcp"
                and rule.from_port == rule.to_port == port
            )
            if not good:
                violations.append(
                    Violation(
                        rule.address,
                        "ingress",
                        f"tcp {port} from the {source} group only",
                        f"{rule.protocol} {rule.ports} from {_describe_source(rule)}",
                    )
                )
    fail_if(violations, f"the {role} group admits more than the {source} group on {port}")


@then(parsers.parse('only the "{role}" security group admits 0.0.0.0/0, on ports "{ports}" only'))
def internet_ingress(infra: Facts, role: str, ports: str) -> None:
    allowed = {int(p) for p in ports.replace(" ", "").split(",")}
    rules = ingress_rules(infra)
    if not rules:
        select(infra, "aws_vpc_security_group_ingress_rule", what="security group ingress rules")
    violations = [
        Violation(
            rule.address,
            "ingress from the internet",
            f"only the {role} group on {sorted(allowed)}",
            f"{role_of(rule.group)} group, {rule.protocol} {rule.ports}",
        )
        for rule in rules
        if set(rule.cidrs) & OPEN_CIDRS
        and not (
            role_of(rule.group) == role
            and rule.protocol == "tcp"
            and rule.from_port == rule.to_port
            and rule.from_port in allowed
        )
    ]
    fail_if(violations, "security groups open to the internet")


@then(parsers.parse("no security group rule admits port {port:d}"))
def no_port(infra: Facts, port: int) -> None:
    rules = ingress_rules(infra)
    if not rules:
        select(infra, "aws_vpc_security_group_ingress_rule", what="security group ingress rules")
    violations = [
        Violation(r.address, "ingress", f"not port {port}", f"{r.protocol} {r.ports} from {_describe_source(r)}")
        for r in rules
        if r.covers_port(port)
        and not (r.source_group is not None and r.source_group is r.group and r.protocol in ("-1", "all"))
    ]
    fail_if(violations, f"port {port} is reachable")


@then(parsers.parse('the "{resource_type}" uses only the "{role}" security group'))
def store_groups(infra: Facts, resource_type: str, role: str) -> None:
    field = "security_group_ids" if resource_type == "aws_elasticache_replication_group" else "vpc_security_group_ids"
    expect_each(
        select(infra, resource_type),
        field,
        [f"the {role} group"],
        read=lambda r: [
            role_of(g) if isinstance(g, Resource) else str(g) for g in attached_groups(infra, r.get(field))
        ],
        ok=lambda roles: roles == [role],
    )


# --------------------------------------------------------------------------------------------------------- bastion


def _bastions(infra: Facts) -> list[Resource]:
    return select(infra, "aws_instance", lambda i: "bastion" in str(i.tags.get("Name", i.address)), "bastion instances")


@then("every bastion instance has no key pair and no ingress rule")
def bastion_no_ingress(infra: Facts) -> None:
    bastions = _bastions(infra)
    violations = [
        Violation(b.address, "key_name", "no key pair", b.get("key_name"))
        for b in bastions
        if not _not_declared(b, b.get("key_name"))
    ]
    rules = ingress_rules(infra)
    violations += [
        Violation(
            rule.address,
            "ingress",
            "none (SSM Session Manager only)",
            f"{rule.protocol} {rule.ports} from {_describe_source(rule)}",
        )
        for bastion in bastions
        for group in attached_groups(infra, bastion.get("vpc_security_group_ids"))
        for rule in rules
        if isinstance(group, Resource) and rule.group is group
    ]
    fail_if(violations, "the bastion accepts inbound connections")


@then(parsers.parse('every bastion instance has the "{policy}" policy through its instance profile'))
def bastion_ssm(infra: Facts, policy: str) -> None:
    def policies(bastion: Resource) -> list[str]:
        name = bastion.get("iam_instance_profile")
        profile = infra.resolve(name) or next(
            (p for p in infra.of_type("aws_iam_instance_profile") if p.get("name") == name), None
        )
        role = role_named(infra, profile.get("role")) if profile is not None else None
        return [str(a).rsplit("/", 1)[-1] for a in managed_policy_arns(infra, role)] if role is not None else []

    expect_each(_bastions(infra), "iam_instance_profile policies", policy, read=policies, ok=lambda p: policy in p)


@then("every bastion instance requires IMDSv2 and encrypts its root volume")
def bastion_hardening(infra: Facts) -> None:
    bastions = _bastions(infra)
    expect_each(bastions, "metadata_options.0.http_tokens", "required")
    expect_each(bastions, "root_block_device.0.encrypted", True)
    expect_each(bastions, "root_block_device.0.kms_key_id", "a customer-managed key",
                ok=lambda v: kms_key(infra, v) is not None)  # fmt: skip


# -------------------------------------------------------------------------------------------------------------- edge


@then("every ACM certificate is DNS-validated and covers the domain and its wildcard")
def certificate(infra: Facts) -> None:
    certs = select(infra, "aws_acm_certificate", what="ACM certificates")
    expect_each(certs, "validation_method", "DNS")
    violations = [
        Violation(
            c.address, "subject_alternative_names", f"*.{c.get('domain_name')}", c.get("subject_alternative_names")
        )
        for c in certs
        if f"*.{c.get('domain_name')}" not in (c.get("subject_alternative_names") or [])
    ]
    fail_if(violations, "certificates do not cover the storefront host names")


@then("every ACM certificate is validated through records in the public hosted zone of its domain")
def certificate_validation(infra: Facts) -> None:
    violations = []
    zones = infra.of_type("aws_route53_zone")
    for cert in select(infra, "aws_acm_certificate"):
        validations = [
            v
            for v in infra.of_type("aws_acm_certificate_validation")
            if infra.resolve(v.get("certificate_arn")) is cert
        ]
        if not validations:
            violations.append(Violation(cert.address, "aws_acm_certificate_validation", "one", "none"))
        zone = next((z for z in zones if z.get("name") == cert.get("domain_name")), None)
        if zone is None:
            violations.append(Violation(cert.address, "hosted zone", cert.get("domain_name"), "none"))
            continue
        for validation in validations:
            records = [infra.resolve(f) for f in validation.get("validation_record_fqdns") or []]
            if not records or any(r is None or infra.resolve(r.get("zone_id")) is not zone for r in records):
                violations.append(
                    Violation(
                        validation.address,
                        "validation_record_fqdns",
                        f"records in {zone.address}",
                        [r.address if r else None for r in records],
                    )
                )
    fail_if(violations, "certificates are not DNS-validated in the public zone")


@then("every default security group has no ingress and no egress rule")
def default_group(infra: Facts) -> None:
    groups = select(infra, "aws_default_security_group", what="default security groups")
    # An aws_default_security_group without rule blocks removes every rule; a plan shows that as unknown.
    violations = [
        Violation(g.address, field, [], g.get(field))
        for g in groups
        for field in ("ingress", "egress")
        if not _not_declared(g, g.get(field))
    ]
    fail_if(violations, "the default security group allows traffic")


# ----------------------------------------------------------------------------------------------------- VPC endpoints


def _endpoint_service(endpoint: Resource) -> str:
    name = str(endpoint.get("service_name"))
    return name.split(".", 3)[-1] if name.startswith("com.amazonaws.") else name  # com.amazonaws.<region>.<svc>


@then("the VPC has an endpoint for every reference service")
def vpc_endpoints(infra: Facts, architecture: Architecture) -> None:
    endpoints = select(infra, "aws_vpc_endpoint", what="VPC endpoints")
    found = {_endpoint_service(e) for e in endpoints}
    violations = [
        Violation(f"<endpoint {service}>", "service_name", f"com.amazonaws.<region>.{service}", "missing")
        for service in architecture.network.vpc_endpoints
        if service not in found
    ]
    fail_if(violations, "AWS API traffic leaves through the NAT instead of an endpoint")


def _interface_endpoints(infra: Facts) -> list[Resource]:
    return select(
        infra, "aws_vpc_endpoint", lambda e: e.get("vpc_endpoint_type") == "Interface", "interface VPC endpoints"
    )


def _tier_subnets(infra: Facts, tier: str) -> list[Resource]:
    return select(infra, "aws_subnet", lambda s: tier_of(s) == tier, f"subnets tagged Tier={tier}")


def _subnet_label(subnet: Resource) -> str:
    return f"{subnet.address} ({subnet.get('cidr_block')}, Tier={tier_of(subnet)})"


@then(parsers.parse('every interface endpoint has private DNS enabled and sits in the "{tier}" subnets'))
def interface_endpoints(infra: Facts, tier: str) -> None:
    """Private DNS on, and exactly the tier's subnets (one interface per AZ there, none anywhere else)."""
    interfaces = _interface_endpoints(infra)
    expect_each(interfaces, "private_dns_enabled", True)
    wanted = sorted(_subnet_label(s) for s in _tier_subnets(infra, tier))

    def subnets(endpoint: Resource) -> list[str]:
        values = endpoint.get("subnet_ids")
        found = []
        for value in values if isinstance(values, list) else [values]:
            subnet = infra.resolve(value)
            found.append(_subnet_label(subnet) if subnet is not None else f"unknown subnet {value!s}")
        return sorted(found)

    expect_each(
        interfaces,
        "subnet_ids",
        wanted,
        read=subnets,
        ok=lambda found: sorted(found) == wanted,
        summary=f"interface endpoints not in exactly the {tier} subnets",
    )


@then(
    parsers.parse(
        'every security group of an interface endpoint admits only {port:d}/TCP, from exactly the "{tier}" subnets'
    )
)
def endpoint_security_groups(infra: Facts, port: int, tier: str) -> None:
    """Each group on an interface endpoint: every ingress rule is tcp ``port`` from CIDRs of the tier's subnets,
    and together the rules admit every one of those subnets (else the pods of that AZ lose the AWS APIs)."""
    interfaces = _interface_endpoints(infra)
    wanted = sorted({str(s.get("cidr_block")) for s in _tier_subnets(infra, tier)})
    expected = f"tcp {port} from the {tier} subnets {', '.join(wanted)} only"
    violations = []
    groups: dict[str, Resource] = {}
    for endpoint in interfaces:
        attached = attached_groups(infra, endpoint.get("security_group_ids"))
        if not attached:
            violations.append(Violation(endpoint.address, "security_group_ids", "a security group", "none"))
        for group in attached:
            if isinstance(group, Resource):
                groups[group.address] = group
            else:
                violations.append(Violation(endpoint.address, "security_group_ids", "a known security group", group))
    all_rules = ingress_rules(infra)
    for address, group in sorted(groups.items()):
        admitted: set[str] = set()
        for rule in (r for r in all_rules if r.group is group):
            good = (
                rule.protocol == "tcp"
                and rule.from_port == rule.to_port == port
                and rule.source_group is None
                and bool(rule.cidrs)
                and set(rule.cidrs) <= set(wanted)
            )
            if good:
                admitted.update(rule.cidrs)
            else:
                found = f"{rule.protocol} {rule.ports} from {_describe_source(rule)}"
                violations.append(Violation(rule.address, "ingress", expected, found))
        missing = [cidr for cidr in wanted if cidr not in admitted]
        if missing:
            violations.append(
                Violation(
                    address,
                    f"ingress {port}/TCP",
                    f"from each of {', '.join(wanted)}",
                    f"no rule for {', '.join(missing)}",
                )
            )
    fail_if(violations, f"interface endpoints reachable from outside the {tier} subnets, or not from all of them")
