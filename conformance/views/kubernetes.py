"""Kubernetes relations derived from ``k8s/<Kind>`` facts: pod templates, containers, selectors, policies, scaling.

Every function reads the objects as the API server would store them, so a rendered overlay and a live cluster
answer alike. Label selectors follow ``metav1.LabelSelector`` semantics; NetworkPolicy reachability follows the
``networking.k8s.io/v1`` rules: a pod is isolated in a direction only if some policy selecting it lists that
direction in ``policyTypes``, and then a connection needs an allowing rule on *both* ends (egress at the source,
ingress at the destination).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.facts import Facts, Resource

# Kinds whose objects carry a pod template (a CronJob one level deeper, in its job template).
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
NAME_LABEL = "app.kubernetes.io/name"
# The label the API server puts on every namespace (1.21+), which namespaceSelectors may use.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

Obj = Mapping[str, Any]


def k8s(facts: Facts, kind: str, namespace: str | None = None) -> list[Resource]:
    """Objects of one kind, optionally in one namespace."""
    return [r for r in facts.of_type(f"k8s/{kind}") if namespace is None or namespace_of(r) == namespace]


def namespace_of(resource: Resource) -> str | None:
    namespace = resource.get("metadata.namespace")
    return str(namespace) if namespace is not None else None


def name_of(resource: Resource) -> str:
    return str(resource.get("metadata.name", ""))


def labels_of(obj: Obj | None) -> Mapping[str, str]:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, Mapping) else {}


def annotations_of(obj: Obj | None) -> Mapping[str, str]:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return annotations if isinstance(annotations, Mapping) else {}


# ------------------------------------------------------------------------------------------------ pods and containers


def workloads(facts: Facts, namespace: str | None = None) -> list[Resource]:
    """Every object that creates pods, in the order the facts hold them."""
    return [
        r
        for r in facts.resources
        if r.type.removeprefix("k8s/") in WORKLOAD_KINDS
        and r.type.startswith("k8s/")
        and (namespace is None or namespace_of(r) == namespace)
    ]


def pod_template(workload: Resource) -> Obj:
    """The pod template (metadata + spec) of a workload; empty when the object has none."""
    spec = workload.values.get("spec") or {}
    if workload.type == "k8s/CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return template if isinstance(template, Mapping) else {}


def pod_spec(workload: Resource) -> Obj:
    spec = pod_template(workload).get("spec") or {}
    return spec if isinstance(spec, Mapping) else {}


def pod_labels(workload: Resource) -> Mapping[str, str]:
    return labels_of(pod_template(workload))


@dataclass(frozen=True)
class Container:
    """One container of a pod template, with where it sits (``spec.containers[0]``) for reports."""

    workload: Resource
    list_name: str  # initContainers, containers, ephemeralContainers
    index: int
    spec: Obj

    @property
    def name(self) -> str:
        return str(self.spec.get("name", f"#{self.index}"))

    @property
    def path(self) -> str:
        return f"{self.list_name}[{self.name}]"

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.spec
        for part in dotted.split("."):
            if not isinstance(node, Mapping):
                return default
            node = node.get(part)
        return default if node is None else node


def containers(workload: Resource, lists: Sequence[str] = CONTAINER_LISTS) -> list[Container]:
    """The containers of a workload's pod template; init and ephemeral ones too unless ``lists`` says otherwise."""
    spec = pod_spec(workload)
    return [
        Container(workload, list_name, index, container)
        for list_name in lists
        for index, container in enumerate(spec.get(list_name) or [])
        if isinstance(container, Mapping)
    ]


def main_containers(workload: Resource) -> list[Container]:
    return containers(workload, ("containers",))


# ------------------------------------------------------------------------------------------------ label selectors


def selector_matches(selector: Obj | None, labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics: an empty selector matches everything, a null one nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if (
            (operator == "In" and not (present and labels[key] in values))
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def namespace_labels(facts: Facts, namespace: str) -> dict[str, str]:
    """A namespace's labels, plus the name label the API server always sets (so it holds for rendered manifests)."""
    labels: dict[str, str] = {}
    for ns in k8s(facts, "Namespace"):
        if name_of(ns) == namespace:
            labels.update(labels_of(ns.values))
    labels[NAMESPACE_NAME_LABEL] = namespace
    return labels


def service_name(resource: Resource) -> str | None:
    """The eks-shop service an object belongs to (its ``app.kubernetes.io/name`` label)."""
    return labels_of(resource.values).get(NAME_LABEL)


def workloads_selected_by(facts: Facts, resource: Resource, selector: Obj | None) -> list[Resource]:
    """Workloads in ``resource``'s namespace whose pods ``selector`` matches."""
    return [w for w in workloads(facts, namespace_of(resource)) if selector_matches(selector, pod_labels(w))]


# ------------------------------------------------------------------------------------------------ scaling relations


def hpas_for(facts: Facts, workload: Resource) -> list[Resource]:
    """HorizontalPodAutoscalers whose ``scaleTargetRef`` names this workload."""
    kind = workload.type.removeprefix("k8s/")
    return [
        hpa
        for hpa in k8s(facts, "HorizontalPodAutoscaler", namespace_of(workload))
        if hpa.get("spec.scaleTargetRef.kind") == kind and hpa.get("spec.scaleTargetRef.name") == name_of(workload)
    ]


def pdbs_for(facts: Facts, workload: Resource) -> list[Resource]:
    """PodDisruptionBudgets whose selector matches the workload's pods."""
    labels = pod_labels(workload)
    return [
        pdb
        for pdb in k8s(facts, "PodDisruptionBudget", namespace_of(workload))
        if selector_matches(pdb.get("spec.selector"), labels)
    ]


def scaled_value(value: Any, total: int, round_up: bool) -> int | None:
    """An IntOrString (``2`` or ``"50%"``) of ``total``, as ``intstr.GetScaledValueFromIntOrPercent`` computes it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        percent = int(value[:-1]) * total
        return -(-percent // 100) if round_up else percent // 100
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def allowed_disruptions(pdb: Resource, replicas: int) -> int | None:
    """How many pods the budget lets be evicted when ``replicas`` healthy pods run (disruption controller rules).

    Percentages round up for both fields (``getExpectedScale`` uses ``GetScaledValueFromIntOrPercent(..., true)``).
    """
    spec = pdb.values.get("spec") or {}
    if "maxUnavailable" in spec:
        max_unavailable = scaled_value(spec["maxUnavailable"], replicas, round_up=True)
        return None if max_unavailable is None else max(0, min(max_unavailable, replicas))
    min_available = scaled_value(spec.get("minAvailable", 1), replicas, round_up=True)
    return None if min_available is None else max(0, replicas - min_available)


# ------------------------------------------------------------------------------------------------ network policies

ALL_PORTS = None  # a rule without ``ports`` admits every port and protocol


@dataclass(frozen=True)
class Peer:
    """A pod (by its namespace and labels) or an address outside the cluster's pods."""

    namespace: str | None = None
    labels: Mapping[str, str] | None = None
    namespace_labels: Mapping[str, str] | None = None
    ip: str | None = None


def policies_selecting(facts: Facts, workload: Resource, direction: str) -> list[Resource]:
    """NetworkPolicies of the workload's namespace that select its pods and isolate them in ``direction``."""
    labels = pod_labels(workload)
    return [
        policy
        for policy in k8s(facts, "NetworkPolicy", namespace_of(workload))
        if selector_matches(policy.get("spec.podSelector"), labels) and direction in policy_types(policy)
    ]


def policy_types(policy: Resource) -> set[str]:
    """``policyTypes``, defaulted as the API server does: Ingress always, Egress when egress rules exist."""
    written = policy.get("spec.policyTypes")
    if written:
        return set(written)
    return {"Ingress", "Egress"} if policy.get("spec.egress") else {"Ingress"}


def rules(policy: Resource, direction: str) -> list[Obj]:
    key = "ingress" if direction == "Ingress" else "egress"
    return [r for r in policy.get(f"spec.{key}") or [] if isinstance(r, Mapping)]


def rule_peers(rule: Obj, direction: str) -> list[Obj] | None:
    """The peers of a rule; ``None`` when the rule lists none, which admits every peer."""
    peers = rule.get("from" if direction == "Ingress" else "to")
    return None if not peers else [p for p in peers if isinstance(p, Mapping)]


def _ip_in(ip: str, block: Obj) -> bool:
    try:
        address = ipaddress.ip_network(ip, strict=False)
        cidr = ipaddress.ip_network(str(block.get("cidr")), strict=False)
        if address.version != cidr.version or not address.subnet_of(cidr):  # type: ignore[arg-type]
            return False
        return not any(
            address.overlaps(ipaddress.ip_network(str(excluded), strict=False))
            for excluded in block.get("except") or []
        )
    except ValueError:
        return False


def peer_admits(peer: Obj, policy_namespace: str | None, other: Peer, pod_cidrs: Sequence[str] = ()) -> bool:
    """Does one ``NetworkPolicyPeer`` admit ``other``?

    A pod peer given by podSelector alone means pods of the policy's own namespace. With the VPC CNI pods take
    their addresses from the node subnets, so an ipBlock that covers ``pod_cidrs`` admits pods as well.
    """
    block = peer.get("ipBlock")
    if block is not None:
        if other.ip is not None:
            return _ip_in(other.ip, block)
        return any(_ip_in(cidr, block) for cidr in pod_cidrs) if other.labels is not None else False
    if other.labels is None:
        return False
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is None:
        namespace_ok = other.namespace == policy_namespace
    else:
        namespace_ok = selector_matches(ns_selector, other.namespace_labels or {})
    pod_selector = peer.get("podSelector")
    return namespace_ok and (pod_selector is None or selector_matches(pod_selector, other.labels))


def rule_ports(rule: Obj) -> list[Obj] | None:
    ports = rule.get("ports")
    return None if not ports else [p for p in ports if isinstance(p, Mapping)]


def port_admits(port: Obj, protocol: str, number: int, named: Mapping[str, int]) -> bool:
    """One ``NetworkPolicyPort`` against a destination port; named ports resolve on the destination pod."""
    if str(port.get("protocol", "TCP")) != protocol:
        return False
    value = port.get("port")
    if value is None:
        return True
    if isinstance(value, str) and not value.isdigit():
        return named.get(value) == number
    low = int(value)
    high = int(port.get("endPort") or low)
    return low <= number <= high


def named_ports(workload: Resource | None) -> dict[str, int]:
    if workload is None:
        return {}
    return {
        str(port["name"]): int(port["containerPort"])
        for container in main_containers(workload)
        for port in container.get("ports", [])
        if isinstance(port, Mapping) and port.get("name") and port.get("containerPort")
    }


def direction_allows(
    facts: Facts,
    workload: Resource,
    direction: str,
    other: Peer,
    protocol: str,
    port: int,
    port_owner: Resource | None,
    pod_cidrs: Sequence[str] = (),
) -> bool:
    """Is ``workload``'s traffic to (egress) or from (ingress) ``other`` on ``protocol/port`` admitted at its end?"""
    policies = policies_selecting(facts, workload, direction)
    if not policies:
        return True  # not isolated in this direction
    names = named_ports(port_owner)
    for policy in policies:
        for rule in rules(policy, direction):
            peers = rule_peers(rule, direction)
            ports = rule_ports(rule)
            peer_ok = peers is None or any(peer_admits(p, namespace_of(policy), other, pod_cidrs) for p in peers)
            port_ok = ports is None or any(port_admits(p, protocol, port, names) for p in ports)
            if peer_ok and port_ok:
                return True
    return False


def pod_peer(facts: Facts, workload: Resource) -> Peer:
    namespace = namespace_of(workload) or ""
    return Peer(namespace, pod_labels(workload), namespace_labels(facts, namespace))


def candidate_ports(workload: Resource) -> set[tuple[str, int]]:
    """The ports a workload's pods listen on (every declared container port)."""
    return {
        (str(port.get("protocol", "TCP")), int(port["containerPort"]))
        for container in main_containers(workload)
        for port in container.get("ports", [])
        if isinstance(port, Mapping) and port.get("containerPort")
    }


def extra_ports_of_rules(facts: Facts, workload: Resource) -> set[tuple[str, int]]:
    """Numeric ports written in the ingress rules of policies selecting a workload (a pod may listen undeclared)."""
    found: set[tuple[str, int]] = set()
    for policy in policies_selecting(facts, workload, "Ingress"):
        for rule in rules(policy, "Ingress"):
            for port in rule_ports(rule) or []:
                value = port.get("port")
                if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                    found.add((str(port.get("protocol", "TCP")), int(value)))
    return found


def allowed_ports(
    facts: Facts, source: Resource, destination: Resource, pod_cidrs: Sequence[str] = ()
) -> set[tuple[str, int]]:
    """The destination ports on which ``source``'s pods may open connections to ``destination``'s pods.

    Candidate ports are those the destination declares or that any ingress rule protecting it names; a port no one
    declares and no rule names is reachable only when neither end is isolated, which the default deny excludes.
    """
    src, dst = pod_peer(facts, source), pod_peer(facts, destination)
    ports = candidate_ports(destination) | extra_ports_of_rules(facts, destination)
    return {
        (protocol, number)
        for protocol, number in ports
        if direction_allows(facts, source, "Egress", dst, protocol, number, destination, pod_cidrs)
        and direction_allows(facts, destination, "Ingress", src, protocol, number, destination, pod_cidrs)
    }


@dataclass(frozen=True)
class Edge:
    """Pods of ``source`` may open connections to pods of ``destination`` on ``ports`` (protocol, number)."""

    source: Resource
    destination: Resource
    ports: frozenset[tuple[str, int]]


def pod_edges(facts: Facts, namespace: str, pod_cidrs: Sequence[str] = ()) -> list[Edge]:
    """Every pair of workloads in ``namespace`` whose pods can talk, with the ports."""
    members = workloads(facts, namespace)
    edges = []
    for source in members:
        for destination in members:
            if source is not destination:
                ports = allowed_ports(facts, source, destination, pod_cidrs)
                if ports:
                    edges.append(Edge(source, destination, frozenset(ports)))
    return edges


def egress_blocks(facts: Facts, workload: Resource) -> Iterator[tuple[Resource, Obj, Obj]]:
    """Every (policy, rule, ipBlock) through which ``workload``'s pods may leave to an address."""
    for policy in policies_selecting(facts, workload, "Egress"):
        for rule in rules(policy, "Egress"):
            for peer in rule_peers(rule, "Egress") or []:
                if isinstance(peer.get("ipBlock"), Mapping):
                    yield policy, rule, peer["ipBlock"]


def admits_everyone(peers: list[Obj] | None) -> bool:
    """A rule whose peers cover every pod of every namespace, or every address."""
    if peers is None:
        return True
    for peer in peers:
        block = peer.get("ipBlock")
        if isinstance(block, Mapping):
            cidr = str(block.get("cidr", ""))
            if cidr.endswith("/0") and not block.get("except"):
                return True
            continue
        ns_selector, pod_selector = peer.get("namespaceSelector"), peer.get("podSelector")
        everywhere = ns_selector is not None and not (
            ns_selector.get("matchLabels") or ns_selector.get("matchExpressions")
        )
        every_pod = pod_selector is None or not (
            pod_selector.get("matchLabels") or pod_selector.get("matchExpressions")
        )
        if everywhere and every_pod:
            return True
    return False


def overlaps_any(cidr: str, cidrs: Iterable[str]) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        return any(network.overlaps(ipaddress.ip_network(c, strict=False)) for c in cidrs)
    except ValueError:
        return False


def within_any(cidr: str, cidrs: Iterable[str]) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        return any(
            network.version == ipaddress.ip_network(c).version and network.subnet_of(ipaddress.ip_network(c))  # type: ignore[arg-type]
            for c in cidrs
        )
    except ValueError:
        return False
