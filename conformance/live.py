"""Shared by the live targets (localstack, aws): facts that know which resource types could not be observed, and
Terraform addresses for live resources from the state of the last apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.collectors import Collection
from conformance.facts import Facts, Resource
from conformance.outcomes import CheckError, NotObservable

# Attributes that identify a live resource in Terraform's state, tried in order.
_IDENTITY_KEYS = (
    "id", "arn", "name", "identifier", "bucket", "cluster_identifier", "replication_group_id", "certificate_arn",
    "attachment",
)  # fmt: skip


def _identities(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in _IDENTITY_KEYS:
        value = values.get(key)
        if key == "attachment" and values.get("role") and values.get("policy_arn"):
            # Terraform ids a policy attachment by role and a timestamp: join on (role, policy) instead.
            value = f"{values['role']}|{values['policy_arn']}"
        if isinstance(value, str) and value:
            yield key, value


@dataclass
class LiveFacts(Facts):
    """Facts read from live APIs. Asking for a type the engine cannot serve is "not observable", not an empty list
    (which ``select`` would turn into a failure); asking for a type whose read failed is an error."""

    unavailable_types: Mapping[str, str] | None = None
    failed_types: Mapping[str, str] | None = None

    def resolve(self, value: Any) -> Resource | None:
        """Live attributes join by ARN or FQDN where a plan joins by reference (a role ARN, a record's FQDN)."""
        found = super().resolve(value)
        if found is not None or not isinstance(value, str) or not value:
            return found
        return next(
            (r for r in self.resources if value in (r.values.get("arn"), r.values.get("fqdn"), r.values.get("key_id"))),
            None,
        )

    def of_type(self, *types: str) -> list[Resource]:
        for resource_type in types:
            if self.failed_types and resource_type in self.failed_types:
                raise CheckError(f"{resource_type}: {self.failed_types[resource_type]}")
        missing = [t for t in types if self.unavailable_types and t in self.unavailable_types]
        if missing and len(missing) == len(types):
            reason = self.unavailable_types[missing[0]] if self.unavailable_types else ""
            raise NotObservable(f"{', '.join(missing)} not observable on target {self.target!r}: {reason}")
        return super().of_type(*types)


def state_resources(state: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every managed resource of a ``terraform show -json`` state, child modules included."""

    def walk(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for item in module.get("resources", []):
            if item.get("mode") == "managed":
                yield item
        for child in module.get("child_modules", []):
            yield from walk(child)

    root = (state.get("values") or {}).get("root_module") or {}
    yield from walk(root)


def address_index(state: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(type, identity) -> Terraform addresses, for every identity attribute a state resource has.

    Several addresses can name one AWS object (two validation records of one certificate with the same CNAME).
    """
    index: dict[tuple[str, str], list[str]] = {}
    for item in state_resources(state):
        for _, value in _identities(item.get("values") or {}):
            addresses = index.setdefault((item["type"], value), [])
            if item["address"] not in addresses:
                addresses.append(item["address"])
    return index


def terraform_aliases(resources: list[Resource], state: Mapping[str, Any]) -> dict[str, str]:
    """Further Terraform addresses of a live object -> the address its facts carry (see :func:`address_index`)."""
    index = address_index(state)
    aliases: dict[str, str] = {}
    for resource in resources:
        primary = resource.address.split(" (", 1)[0]
        for _, value in _identities(resource.values):
            for address in index.get((resource.type, value), [])[1:]:
                aliases.setdefault(address, primary)
    return aliases


def with_terraform_addresses(resources: list[Resource], state: Mapping[str, Any]) -> tuple[list[Resource], int]:
    """Give each live resource the Terraform address it was created under, keeping the live name beside it.

    ``module.vpc.aws_subnet.app["us-east-1a"] (aws_subnet eks-shop-dev-app-us-east-1a)``: violations then name
    both what Terraform calls it and what a person sees in the console. Returns the resources and how many matched.
    """
    index = address_index(state)
    matched = 0
    out = []
    for resource in resources:
        address = next(
            (index[(resource.type, v)][0] for _, v in _identities(resource.values) if (resource.type, v) in index),
            None,
        )
        if address is None:
            out.append(resource)
            continue
        matched += 1
        live_name = resource.address.split(" ", 1)[-1]
        out.append(Resource(resource.type, f"{address} ({live_name})", resource.values))
    return out, matched


def to_facts(target: str, environment: str, collection: Collection) -> LiveFacts:
    facts = LiveFacts(
        target=target,
        environment=environment,
        resources=list(collection.resources),
        unavailable_types=dict(collection.unavailable),
        failed_types=dict(collection.errors),
    )
    facts.sources.add("aws")
    facts.metadata["collect_seconds"] = collection.seconds
    if collection.unavailable:
        facts.metadata["not_observable_types"] = dict(collection.unavailable)
    return facts
