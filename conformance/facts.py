"""The facts model: what a target observed about a deployment, in one shape whatever the target.

Infrastructure facts are Terraform-shaped: a resource has a Terraform type (``aws_subnet``) and the attribute names
of the Terraform AWS provider (``cidr_block``, ``availability_zone``, ``tags``). The static target reads them from a
plan; the live targets read the same attributes back through the AWS APIs. Kubernetes facts use the type
``k8s/<Kind>`` and carry the object itself. Steps therefore speak one vocabulary for every target.

A value that a plan cannot know before apply (an id, an ARN) is a :class:`Ref`: "attribute X of resource Y". Two
references to the same thing compare equal, so joins such as ``association.subnet_id == subnet.id`` work on a plan
exactly as they work on live ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A value known only after apply: attribute ``attribute`` of the resource at ``address``."""

    address: str
    attribute: str

    def __str__(self) -> str:
        return f"(known after apply: {self.address}.{self.attribute})"


@dataclass(frozen=True)
class Unknown:
    """A value known only after apply whose origin could not be traced to another resource."""

    address: str
    path: str

    def __str__(self) -> str:
        return f"(known after apply: {self.address}.{self.path})"


@dataclass(frozen=True)
class Resource:
    """One observed object: a cloud resource or a Kubernetes object."""

    type: str
    address: str
    values: Mapping[str, Any]

    @property
    def id(self) -> Any:
        return self.values.get("id")

    @property
    def tags(self) -> Mapping[str, str]:
        tags = self.values.get("tags_all") or self.values.get("tags") or {}
        return tags if isinstance(tags, Mapping) else {}

    def get(self, path: str, default: Any = None) -> Any:
        """Read a dotted path (``encryption_config.0.resources``); lists are indexed by number."""
        node: Any = self.values
        for part in path.split("."):
            if isinstance(node, Mapping):
                node = node.get(part, default)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return node


@dataclass
class Facts:
    """Everything one target observed, plus what it could not observe and why.

    ``sources`` are the kinds of evidence the target produced (``terraform``, ``aws``, ``kubernetes``,
    ``services``). ``unavailable`` maps a source the target would normally produce to the reason it could not
    (for example Terraform missing from PATH), so steps can report "not observable here" instead of failing.
    """

    target: str
    environment: str
    resources: list[Resource] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    unavailable: dict[str, str] = field(default_factory=dict)
    # Sources that should have been observed but failed (a plan refused by a validation): checks on them error.
    errors: dict[str, str] = field(default_factory=dict)
    # Free-form facts a source attaches (the plan's variables, the cluster version...).
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id: dict[Any, Resource] = {}
        self._reindex()

    def _reindex(self) -> None:
        self._by_id = {}
        for resource in self.resources:
            ident = resource.id
            if ident is not None and not isinstance(ident, (dict, list)):
                self._by_id.setdefault(ident, resource)
            # A plan's resources are also known by the Ref to their own id.
            self._by_id.setdefault(Ref(resource.address, "id"), resource)

    def add(self, resources: Iterable[Resource]) -> None:
        self.resources.extend(resources)
        self._reindex()

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def resolve(self, value: Any) -> Resource | None:
        """The resource a reference or id points at, if this deployment has it."""
        if isinstance(value, Ref):
            if value.attribute == "id":
                return self._by_id.get(value)
            return next((r for r in self.resources if r.address == value.address), None)
        try:
            return self._by_id.get(value)
        except TypeError:  # unhashable values cannot be ids
            return None

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)


def address_matches(pattern: str, address: str) -> bool:
    """Glob over resource addresses where only ``*`` is a wildcard: addresses are full of literal brackets."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), address) is not None
