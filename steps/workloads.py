"""Steps about Kubernetes workloads: pod security, probes and resources, network policies, autoscaling.

Every step reads ``k8s/<Kind>`` facts, so it runs unchanged on rendered manifests (static target) and on a live
cluster (kind target). Relations (which policy selects which pods, which PDB covers which Deployment) come from
``conformance.views.kubernetes``; the restricted profile's controls from ``conformance.views.pod_security``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_bdd import given, parsers, then, when

from conformance.checks import fail_if, require_source, select
from conformance.facts import Facts, Resource
from conformance.hpa import HpaSpec, Step, Utilization, simulate
from conformance.outcomes import CheckError, Violation
from conformance.views import pod_security as pss
from conformance.views.iam import PolicyNotReadable, Statement, policy_statements, role_name_from_arn
from conformance.views.kubernetes import (
    Peer,
    admits_everyone,
    allowed_disruptions,
    annotations_of,
    containers,
    direction_allows,
    hpas_for,
    k8s,
    labels_of,
    main_containers,
    name_of,
    namespace_labels,
    namespace_of,
    overlaps_any,
    pdbs_for,
    pod_edges,
    pod_labels,
    pod_spec,
    policies_selecting,
    policy_types,
    port_admits,
    rule_peers,
    rule_ports,
    rules,
    selector_matches,
    service_name,
    within_any,
    workloads,
)
from reference import Architecture

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
COMPONENT_LABEL = "app.kubernetes.io/component"
MIGRATION_COMPONENT = "migration"
MIGRATES_LABEL = "eks-shop.io/migrates"
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
STS_AUDIENCE = "sts.amazonaws.com"


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _where(facts: Facts) -> str:
    return f"<{facts.target}:{facts.environment}>"


def cluster_name(facts: Facts) -> str:
    """``eks-ecommerce-<env>`` (docs/conventions.md), or the plan's ``cluster_name`` variable when it has one."""
    variables = facts.metadata.get("variables") or {}
    value = variables.get("cluster_name") if isinstance(variables, Mapping) else None
    return value if isinstance(value, str) and value else f"eks-ecommerce-{facts.environment}"


@given("the Kubernetes manifests of the environment", target_fixture="manifests")
def manifests(facts: Facts) -> Facts:
    """Kubernetes objects: the rendered overlay (static) or what the cluster's API returns (kind)."""
    require_source(facts, "kubernetes")
    return facts


# -------------------------------------------------------------------------------------------------- selections


@given(parsers.parse('the pod templates in the "{namespace}" namespace'), target_fixture="pods")
def pod_templates(manifests: Facts, namespace: str) -> list[Resource]:
    pods = workloads(manifests, namespace)
    if not pods:
        select(manifests, "k8s/Deployment", lambda _r: False, what=f"workloads with pod templates in {namespace}")
    return pods


def _reference_deployments(manifests: Facts, architecture: Architecture) -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    missing = []
    for name, service in architecture.services.items():
        match = [d for d in k8s(manifests, "Deployment", service.namespace) if name_of(d) == name]
        if match:
            found[name] = match[0]
        else:
            missing.append(Violation(f"Deployment/{service.namespace}/{name}", "exists", "a Deployment", "none"))
    fail_if(missing, "reference services without a Deployment")
    return found


@given("the Deployments of the reference services", target_fixture="deployments")
def reference_deployments(manifests: Facts, architecture: Architecture) -> dict[str, Resource]:
    return _reference_deployments(manifests, architecture)


def _check_pods(pods: list[Resource], control: pss.Control, summary: str) -> None:
    fail_if([v for pod in pods for v in control(pod)], summary)


# -------------------------------------------------------------------------------------------------- pod security


@then(parsers.parse('the namespace "{namespace}" enforces, audits and warns the "{level}" Pod Security Standard'))
def namespace_pss(manifests: Facts, architecture: Architecture, namespace: str, level: str) -> None:
    namespaces = select(manifests, "k8s/Namespace", lambda n: name_of(n) == namespace, what=f"namespace {namespace}")
    minimum = tuple(int(p) for p in architecture.eks.min_version.split("."))
    violations = []
    for ns in namespaces:
        labels = labels_of(ns.values)
        for mode in ("enforce", "audit", "warn"):
            key = f"pod-security.kubernetes.io/{mode}"
            if labels.get(key) != level:
                violations.append(Violation(ns.address, f"metadata.labels[{key}]", level, labels.get(key)))
            version = labels.get(f"{key}-version", "latest")
            match = re.fullmatch(r"v(\d+)\.(\d+)", version)
            if version != "latest" and (match is None or (int(match[1]), int(match[2])) < minimum):
                violations.append(
                    Violation(
                        ns.address,
                        f"metadata.labels[{key}-version]",
                        f"latest or >= v{architecture.eks.min_version}",
                        version,
                    )
                )
    fail_if(violations, f"namespace {namespace} does not apply the {level} Pod Security Standard")


@then("no pod uses the host's network, PID or IPC namespace, or runs as a Windows host process")
def no_host_namespaces(pods: list[Resource]) -> None:
    _check_pods(pods, pss.host_namespaces, "pods share host namespaces")


@then("no container runs privileged")
def no_privileged(pods: list[Resource]) -> None:
    _check_pods(pods, pss.privileged, "privileged containers")


@then("every container drops ALL capabilities and adds back none but NET_BIND_SERVICE")
def capabilities_dropped(pods: list[Resource]) -> None:
    _check_pods(pods, pss.capabilities, "containers keep Linux capabilities")


@then("every volume is of a type the restricted profile allows, and none is a hostPath")
def restricted_volumes(pods: list[Resource]) -> None:
    _check_pods(pods, pss.volumes, "pods mount volume types outside the restricted profile")


@then("no container binds a host port")
def no_host_ports(pods: list[Resource]) -> None:
    _check_pods(pods, pss.host_ports, "containers bind host ports")


@then("no pod weakens its AppArmor profile")
def apparmor_kept(pods: list[Resource]) -> None:
    _check_pods(pods, pss.apparmor, "pods override AppArmor")


@then("no pod sets a custom SELinux type, user or role")
def selinux_kept(pods: list[Resource]) -> None:
    _check_pods(pods, pss.selinux, "pods set custom SELinux options")


@then("every container keeps the default masked /proc mount")
def proc_mount_default(pods: list[Resource]) -> None:
    _check_pods(pods, pss.proc_mount, "containers unmask /proc")


@then("every container runs under the seccomp profile RuntimeDefault or Localhost")
def seccomp_profile(pods: list[Resource]) -> None:
    _check_pods(pods, pss.seccomp, "containers without a restricted seccomp profile")


@then("no pod sets a sysctl outside the safe set")
def safe_sysctls(pods: list[Resource]) -> None:
    _check_pods(pods, pss.sysctls, "pods set unsafe sysctls")


@then("every container forbids privilege escalation")
def no_privilege_escalation(pods: list[Resource]) -> None:
    _check_pods(pods, pss.privilege_escalation, "containers may escalate privileges")


@then("every container must run as a non-root user and never as UID 0")
def non_root(pods: list[Resource]) -> None:
    _check_pods(pods, pss.run_as_non_root, "containers may run as root")


@then("every container has a read-only root filesystem")
def read_only_root(pods: list[Resource]) -> None:
    _check_pods(pods, pss.read_only_root_filesystem, "containers with a writable root filesystem")


@then("every container has CPU and memory limits")
def limits_set(pods: list[Resource]) -> None:
    _check_pods(pods, pss.resource_limits, "containers without resource limits")


# -------------------------------------------------------------------------------------------------- workloads

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


@then("every container of the services has startup, readiness and liveness probes")
def probes_present(deployments: dict[str, Resource]) -> None:
    fail_if(
        [
            Violation(d.address, f"{c.path}.{probe}", "a probe", None)
            for d in deployments.values()
            for c in main_containers(d)
            for probe in PROBES
            if not c.spec.get(probe)
        ],
        "containers without probes",
    )


def _probe_speaks(probe: Mapping[str, Any], protocol: str, port: int, named: Mapping[str, int]) -> bool:
    handler = probe.get("grpc" if protocol == "grpc" else "httpGet")
    if not isinstance(handler, Mapping):
        return False
    value = handler.get("port")
    return value == port or (isinstance(value, str) and named.get(value) == port)


@then("the probes speak the service's protocol on its port: native gRPC probes for gRPC services, HTTP for HTTP")
def probes_protocol(deployments: dict[str, Resource], architecture: Architecture) -> None:
    violations = []
    for name, deployment in deployments.items():
        service = architecture.services[name]  # type: ignore[index]
        container = _service_container(deployment, name)
        named = {str(p.get("name")): int(p.get("containerPort", 0)) for p in container.get("ports", [])}
        for probe in PROBES:
            spec = container.spec.get(probe)
            if isinstance(spec, Mapping) and not _probe_speaks(spec, service.protocol, service.port, named):
                kind = "grpc" if service.protocol == "grpc" else "httpGet"
                found = {k: v for k, v in spec.items() if k in ("grpc", "httpGet", "tcpSocket", "exec")}
                violations.append(
                    Violation(deployment.address, f"{container.path}.{probe}", f"{kind} on port {service.port}", found)
                )
    fail_if(violations, "probes that do not speak the service's protocol")


def _service_container(deployment: Resource, service: str) -> Any:
    mains = main_containers(deployment)
    return next((c for c in mains if c.name == service), mains[0] if mains else None)


@then("every container of the services requests and limits CPU and memory")
def requests_and_limits(deployments: dict[str, Resource]) -> None:
    violations = []
    for d in deployments.values():
        for c in containers(d, ("initContainers", "containers")):
            for kind in ("requests", "limits"):
                values = c.get(f"resources.{kind}", {})
                if not (values.get("cpu") and values.get("memory")):
                    violations.append(
                        Violation(d.address, f"{c.path}.resources.{kind}", "cpu and memory", dict(values) or None)
                    )
    fail_if(violations, "containers without requests and limits")


def _min_replicas(manifests: Facts, deployment: Resource) -> int:
    """What the service runs at the least: the HPA minimum if an HPA owns it, else the Deployment's replicas."""
    hpas = hpas_for(manifests, deployment)
    if hpas:
        return int(hpas[0].get("spec.minReplicas", 1))
    return int(deployment.get("spec.replicas", 1))


@then(parsers.parse("every service runs at least {count:d} replicas at all times"))
def at_least_replicas(manifests: Facts, deployments: dict[str, Resource], count: int) -> None:
    violations = []
    for d in deployments.values():
        for hpa in hpas_for(manifests, d):
            if int(hpa.get("spec.minReplicas", 1)) < count:
                violations.append(
                    Violation(hpa.address, "spec.minReplicas", f">= {count}", hpa.get("spec.minReplicas", "unset (1)"))
                )
        replicas = d.get("spec.replicas", 1)
        if replicas < count:
            violations.append(Violation(d.address, "spec.replicas", f">= {count}", replicas))
    fail_if(violations, f"services that may run fewer than {count} replicas")


@then("every service has one PodDisruptionBudget that lets at least one pod, and fewer than its minimum, be evicted")
def pdb_below_minimum(manifests: Facts, deployments: dict[str, Resource]) -> None:
    violations = []
    for d in deployments.values():
        pdbs = pdbs_for(manifests, d)
        if len(pdbs) != 1:
            # The eviction API refuses pods covered by more than one budget.
            violations.append(
                Violation(d.address, "PodDisruptionBudgets selecting its pods", 1, [p.address for p in pdbs])
            )
            continue
        minimum = _min_replicas(manifests, d)
        allowed = allowed_disruptions(pdbs[0], minimum)
        if allowed is None or not 1 <= allowed < minimum:
            violations.append(
                Violation(
                    pdbs[0].address,
                    f"allowed disruptions at {minimum} replicas",
                    f"between 1 and {minimum - 1}",
                    allowed,
                )
            )
    fail_if(violations, "disruption budgets that block drains or allow an outage")


@then(parsers.parse('every service spreads its pods over "{keys}"'))
def topology_spread(deployments: dict[str, Resource], keys: str) -> None:
    violations = []
    for d in deployments.values():
        labels = pod_labels(d)
        constraints = pod_spec(d).get("topologySpreadConstraints") or []
        for key in _csv(keys):
            good = [
                c
                for c in constraints
                if c.get("topologyKey") == key
                and selector_matches(c.get("labelSelector"), labels)
                and int(c.get("maxSkew", 0)) >= 1
            ]
            if not good:
                violations.append(
                    Violation(
                        d.address,
                        "spec.template.spec.topologySpreadConstraints",
                        f"a constraint on {key} selecting the service's pods",
                        [c.get("topologyKey") for c in constraints] or None,
                    )
                )
    fail_if(violations, "services whose pods may pile up in one zone or on one node")


def _pre_stop_seconds(container: Any) -> int | None:
    """How long preStop waits: ``sleep N`` (exec) or the 1.29 ``sleep`` action; 0 for any other handler."""
    hook = container.get("lifecycle.preStop")
    if not isinstance(hook, Mapping):
        return None
    if isinstance(hook.get("sleep"), Mapping):
        return int(hook["sleep"].get("seconds", 0))
    command = (hook.get("exec") or {}).get("command") or []
    if len(command) == 2 and str(command[0]).endswith("sleep") and str(command[1]).isdigit():
        return int(command[1])
    return 0


@then("every service has a preStop hook and a termination grace period longer than the hook")
def graceful_shutdown(deployments: dict[str, Resource]) -> None:
    violations = []
    for d in deployments.values():
        grace = pod_spec(d).get("terminationGracePeriodSeconds", 30)  # the API default
        for c in main_containers(d):
            wait = _pre_stop_seconds(c)
            if wait is None:
                violations.append(Violation(d.address, f"{c.path}.lifecycle.preStop", "a preStop hook", None))
            elif grace <= wait:
                violations.append(
                    Violation(
                        d.address,
                        "spec.template.spec.terminationGracePeriodSeconds",
                        f"> the {wait} s preStop wait",
                        grace,
                    )
                )
    fail_if(violations, "services cut in-flight requests on shutdown")


IMAGE = re.compile(
    r"^(?P<registry>\d{12}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com)/(?P<repository>[a-z0-9._/-]+)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
MUTABLE_TAGS = frozenset({"latest", "main", "master", "stable", "dev", "edge"})


@then(parsers.parse('every service image comes from the ECR repository "{pattern}" by an immutable tag or digest'))
def images_pinned(deployments: dict[str, Resource], architecture: Architecture, pattern: str) -> None:
    violations = []
    for name, d in deployments.items():
        expected = pattern.replace("<service>", name)
        for c in containers(d, ("initContainers", "containers")):
            image = str(c.spec.get("image", ""))
            match = IMAGE.match(image)
            problem = None
            if match is None:
                problem = "an ECR image reference <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>"
            elif match["repository"] != expected:
                problem = f"repository {expected}"
            elif match["region"] != architecture.region:
                problem = f"region {architecture.region}"
            elif match["digest"] is None and (match["tag"] is None or match["tag"] in MUTABLE_TAGS):
                problem = "an immutable version tag or a sha256 digest"
            if problem:
                violations.append(Violation(d.address, f"{c.path}.image", problem, image))
    fail_if(violations, "images not pinned to the services' ECR repositories")


@then("every service runs under its own ServiceAccount, named after the service")
def own_service_account(manifests: Facts, deployments: dict[str, Resource], architecture: Architecture) -> None:
    violations = []
    users: dict[str, list[str]] = {}
    for name, d in deployments.items():
        wanted = architecture.services[name].service_account  # type: ignore[index]
        used = pod_spec(d).get("serviceAccountName") or "default"
        users.setdefault(used, []).append(name)
        if used != wanted:
            violations.append(Violation(d.address, "spec.template.spec.serviceAccountName", wanted, used))
        elif not [s for s in k8s(manifests, "ServiceAccount", namespace_of(d)) if name_of(s) == wanted]:
            violations.append(
                Violation(f"ServiceAccount/{namespace_of(d)}/{wanted}", "exists", "a ServiceAccount", "none")
            )
    violations += [
        Violation(f"ServiceAccount/*/{account}", "used by", "one service", sorted(names))
        for account, names in users.items()
        if len(names) > 1
    ]
    fail_if(violations, "services without their own ServiceAccount")


# -------------------------------------------------------------------------------------------------- migrations


def _migration_jobs(manifests: Facts, namespace: str | None, service: str) -> list[Resource]:
    return [j for j in k8s(manifests, "Job", namespace) if migrated_service(j) == service]


def _secret_refs(workload: Resource) -> set[str]:
    """Names of the Secrets a pod template mounts (secret and projected volumes) or reads (env, envFrom)."""
    names: set[str] = set()
    for volume in pod_spec(workload).get("volumes") or []:
        if not isinstance(volume, Mapping):
            continue
        if isinstance(volume.get("secret"), Mapping):
            names.add(str(volume["secret"].get("secretName")))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if isinstance(source, Mapping) and isinstance(source.get("secret"), Mapping):
                names.add(str(source["secret"].get("name")))
    for c in containers(workload):
        for env in c.get("env", []):
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") if isinstance(env, Mapping) else None
            if isinstance(ref, Mapping):
                names.add(str(ref.get("name")))
        for env_from in c.get("envFrom", []):
            if isinstance(env_from, Mapping) and isinstance(env_from.get("secretRef"), Mapping):
                names.add(str(env_from["secretRef"].get("name")))
    return names


@then(
    parsers.parse('every service with a PostgreSQL store has a migration Job running its image\'s "{command}" command')
)
def migration_jobs_exist(
    manifests: Facts, deployments: dict[str, Resource], architecture: Architecture, command: str
) -> None:
    """A Job labelled ``app.kubernetes.io/component: migration`` and ``eks-shop.io/migrates: <service>`` per service
    whose store is postgresql, running the service's own image (the release's tag: the schema the new pods expect)
    with ``command`` among its arguments."""
    violations = []
    for name, deployment in sorted(deployments.items()):
        service = architecture.services[name]  # type: ignore[index]
        if service.store != "postgresql":
            continue
        jobs = _migration_jobs(manifests, namespace_of(deployment), name)
        if not jobs:
            violations.append(
                Violation(
                    f"Job/{namespace_of(deployment)}/*",
                    f"{COMPONENT_LABEL}={MIGRATION_COMPONENT}, {MIGRATES_LABEL}={name}",
                    f"a migration Job for {name}",
                    "none",
                )
            )
        main = _service_container(deployment, name)
        for job in jobs:
            for c in main_containers(job):
                argv = [str(a) for a in [*c.get("command", []), *c.get("args", [])]]
                if main is not None and c.get("image") != main.get("image"):
                    violations.append(
                        Violation(
                            job.address, f"{c.path}.image", f"the Deployment's {main.get('image')}", c.get("image")
                        )
                    )
                if command not in argv:
                    violations.append(Violation(job.address, f"{c.path}.command/args", f"contains {command!r}", argv))
    fail_if(violations, "database services without a migration Job of their release")


@then("the migration Jobs take the owner's credentials from a Secret that no Deployment mounts or references")
def owner_secret_kept_from_services(manifests: Facts) -> None:
    """Each migration Job reads at least one Secret (the owner's credentials; never literals) and runs under a
    ServiceAccount of its own; no Deployment anywhere mounts or references one of those Secrets, or runs under that
    ServiceAccount (whose IRSA role may read the owner's secret)."""
    jobs = [j for j in k8s(manifests, "Job") if migrated_service(j) is not None]
    if not jobs:
        select(manifests, "k8s/Job", lambda _r: False, what="migration Jobs")
    violations = []
    owner_secrets: dict[tuple[str | None, str], str] = {}
    job_accounts: dict[tuple[str | None, str], str] = {}
    for job in jobs:
        secrets = _secret_refs(job)
        if not secrets:
            violations.append(
                Violation(
                    job.address, "spec.template.spec (volumes, env)", "the owner's credentials from a Secret", "none"
                )
            )
        for secret in secrets:
            owner_secrets[(namespace_of(job), secret)] = job.address
        account = str(pod_spec(job).get("serviceAccountName") or "default")
        job_accounts[(namespace_of(job), account)] = job.address
    for deployment in k8s(manifests, "Deployment"):
        for secret in sorted(_secret_refs(deployment)):
            if (namespace_of(deployment), secret) in owner_secrets:
                violations.append(
                    Violation(
                        deployment.address,
                        f"Secret {secret}",
                        f"not held (the owner's credentials of {owner_secrets[(namespace_of(deployment), secret)]})",
                        "mounted or referenced",
                    )
                )
        account = str(pod_spec(deployment).get("serviceAccountName") or "default")
        if (namespace_of(deployment), account) in job_accounts:
            violations.append(
                Violation(
                    deployment.address,
                    "spec.template.spec.serviceAccountName",
                    f"not the ServiceAccount of {job_accounts[(namespace_of(deployment), account)]}",
                    account,
                )
            )
    fail_if(violations, "the services can reach the database owner's credentials")


MIGRATION_POD_CONTROLS = (
    pss.host_namespaces,
    pss.privileged,
    pss.capabilities,
    pss.volumes,
    pss.seccomp,
    pss.privilege_escalation,
    pss.run_as_non_root,
    pss.read_only_root_filesystem,
    pss.resource_limits,
)
POD_SECURITY_FIELDS = ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile")


@then(
    "every migration Job runs with the pod security of the service it migrates, "
    "bounded retries and lifetime, and CPU and memory requests and limits"
)
def migration_jobs_secured(manifests: Facts, deployments: dict[str, Resource]) -> None:
    """The restricted controls of the pod-security feature, the pod securityContext of the migrated service's
    Deployment (same image, same uid/gid), its container securityContext, no API token, ``backoffLimit`` and
    ``ttlSecondsAfterFinished`` set, and requests and limits of CPU and memory."""
    jobs = [j for j in k8s(manifests, "Job") if migrated_service(j) is not None]
    if not jobs:
        select(manifests, "k8s/Job", lambda _r: False, what="migration Jobs")
    violations = []
    for job in jobs:
        for control in MIGRATION_POD_CONTROLS:
            violations += control(job)
        spec = pod_spec(job)
        if spec.get("automountServiceAccountToken") is not False:
            violations.append(
                Violation(
                    job.address,
                    "spec.template.spec.automountServiceAccountToken",
                    False,
                    spec.get("automountServiceAccountToken"),
                )
            )
        for field in ("backoffLimit", "ttlSecondsAfterFinished"):
            if not isinstance(job.get(f"spec.{field}"), int):
                violations.append(Violation(job.address, f"spec.{field}", "set", job.get(f"spec.{field}")))
        for c in containers(job, ("initContainers", "containers")):
            for kind in ("requests", "limits"):
                values = c.get(f"resources.{kind}", {})
                if not (values.get("cpu") and values.get("memory")):
                    violations.append(
                        Violation(job.address, f"{c.path}.resources.{kind}", "cpu and memory", dict(values) or None)
                    )
        deployment = deployments.get(str(migrated_service(job)))
        if deployment is None:
            violations.append(Violation(job.address, MIGRATES_LABEL, "a reference service", migrated_service(job)))
            continue
        pod_sc, job_sc = pod_spec(deployment).get("securityContext") or {}, spec.get("securityContext") or {}
        for field in POD_SECURITY_FIELDS:
            if job_sc.get(field) != pod_sc.get(field):
                violations.append(
                    Violation(
                        job.address, f"spec.template.spec.securityContext.{field}", pod_sc.get(field), job_sc.get(field)
                    )
                )
        main = _service_container(deployment, str(migrated_service(job)))
        wanted = main.get("securityContext") if main is not None else None
        for c in containers(job, ("initContainers", "containers")):
            if c.get("securityContext") != wanted:
                violations.append(Violation(job.address, f"{c.path}.securityContext", wanted, c.get("securityContext")))
    fail_if(violations, "migration Jobs less confined than the services")


# -------------------------------------------------------------------------------------------------- network policy


@then("every pod is isolated for ingress and egress by a default-deny policy")
def default_deny(manifests: Facts, pods: list[Resource]) -> None:
    violations = []
    for pod in pods:
        for direction in ("Ingress", "Egress"):
            deny = [
                p
                for p in k8s(manifests, "NetworkPolicy", namespace_of(pod))
                if selector_matches(p.get("spec.podSelector"), pod_labels(pod))
                and direction in policy_types(p)
                and not rules(p, direction)
            ]
            if not deny:
                violations.append(
                    Violation(
                        pod.address,
                        f"{direction} default deny",
                        "a NetworkPolicy selecting the pods with no rules",
                        None,
                    )
                )
    fail_if(violations, "pods not under a default deny")


@then(
    parsers.parse(
        'the allowed pod-to-pod connections in "{namespace}" are exactly the reference call graph, '
        "each on the callee's port"
    )
)
def edges_equal_call_graph(manifests: Facts, architecture: Architecture, namespace: str) -> None:
    expected = {
        (caller, callee): {("TCP", architecture.services[callee].port)}  # type: ignore[index]
        for caller, callee in architecture.call_edges()
    }
    pod_cidrs = architecture.network.tiers["app"]
    found: dict[tuple[str, str], set[tuple[str, int]]] = {}
    addresses: dict[tuple[str, str], str] = {}
    for edge in pod_edges(manifests, namespace, pod_cidrs):
        source, destination = edge.source, edge.destination
        key = (service_name(source) or source.address, service_name(destination) or destination.address)
        found.setdefault(key, set()).update(edge.ports)
        addresses[key] = f"{source.address} -> {destination.address}"
    if not workloads(manifests, namespace):
        select(manifests, "k8s/Deployment", lambda _r: False, what=f"workloads in {namespace}")
    violations = [
        Violation(addresses[edge], "allowed connection", "none (not in the reference call graph)", _ports_text(ports))
        for edge, ports in sorted(found.items())
        if edge not in expected
    ]
    violations += [
        Violation(f"{caller} -> {callee}", "allowed connection", _ports_text(ports), "blocked")
        for (caller, callee), ports in sorted(expected.items())
        if (caller, callee) not in found
    ]
    violations += [
        Violation(addresses[edge], "allowed ports", _ports_text(ports), _ports_text(found[edge]))
        for edge, ports in sorted(expected.items())
        if edge in found and found[edge] != ports
    ]
    fail_if(violations, "the network policies do not allow exactly the reference call graph")


def _ports_text(ports: set[tuple[str, int]]) -> str:
    return ", ".join(f"{number}/{protocol}" for protocol, number in sorted(ports))


@then("no NetworkPolicy rule admits every peer")
def no_allow_all(manifests: Facts) -> None:
    policies = select(manifests, "k8s/NetworkPolicy")
    violations = []
    for policy in policies:
        for direction in ("Ingress", "Egress"):
            for index, rule in enumerate(rules(policy, direction)):
                if admits_everyone(rule_peers(rule, direction)):
                    ports = rule_ports(rule)
                    violations.append(
                        Violation(
                            policy.address,
                            f"spec.{direction.lower()}[{index}]",
                            "peers limited by selector or address",
                            "every peer on "
                            + ("every port" if ports is None else ", ".join(str(p.get("port")) for p in ports)),
                        )
                    )
    fail_if(violations, "NetworkPolicy rules that admit everyone")


@then(
    parsers.parse(
        'every pod may resolve names with the pods labelled "{label}" in "{namespace}" '
        "on port {port:d} over UDP and TCP"
    )
)
def dns_egress(manifests: Facts, pods: list[Resource], label: str, namespace: str, port: int) -> None:
    key, _, value = label.partition("=")
    dns = Peer(namespace, {key: value}, namespace_labels(manifests, namespace))
    fail_if(
        [
            Violation(pod.address, f"egress {port}/{protocol}", f"allowed to {label} in {namespace}", "blocked")
            for pod in pods
            for protocol in ("UDP", "TCP")
            if not direction_allows(manifests, pod, "Egress", dns, protocol, port, None)
        ],
        "pods that cannot resolve names",
    )


@then("only the services that use a data store may reach the data subnets, only on that store's port")
def data_store_egress(manifests: Facts, pods: list[Resource], architecture: Architecture) -> None:
    data = architecture.network.tiers["data"]
    store_ports = {
        "postgresql": architecture.data_stores.postgresql.port,
        "redis": architecture.data_stores.redis.port,
        "documentdb": architecture.data_stores.documentdb.port,
    }
    violations = []
    for pod in pods:
        name = migrated_service(pod) or service_name(pod)
        service = architecture.services.get(name) if name else None  # type: ignore[call-overload]
        store = service.store if service is not None else None
        wanted = {("TCP", store_ports[store])} if store else set()
        violations += _data_rule_violations(manifests, pod, data, wanted, set(store_ports.values()))
        for cidr in data if wanted else []:
            target = Peer(ip=cidr)
            for protocol, port in wanted:
                if not direction_allows(manifests, pod, "Egress", target, protocol, port, None):
                    violations.append(
                        Violation(pod.address, f"egress to {cidr}", f"{port}/{protocol} ({store})", "blocked")
                    )
    fail_if(violations, "data-store egress differs from the services' stores")


def migrated_service(workload: Resource) -> str | None:
    """The service whose schema a migration Job migrates (label ``eks-shop.io/migrates`` on a Job of the component
    ``migration``): it needs that service's store, and nothing else of the service. None for any other workload."""
    labels = labels_of(workload.values)
    if workload.type != "k8s/Job" or labels.get(COMPONENT_LABEL) != MIGRATION_COMPONENT:
        return None
    return labels.get(MIGRATES_LABEL) or None


def _data_rule_violations(
    manifests: Facts, pod: Resource, data: list[str], wanted: set[tuple[str, int]], store_ports: set[int]
) -> list[Violation]:
    violations = []
    for policy in k8s(manifests, "NetworkPolicy", namespace_of(pod)):
        selected = selector_matches(policy.get("spec.podSelector"), pod_labels(pod))
        if not selected or "Egress" not in policy_types(policy):
            continue
        for index, rule in enumerate(rules(policy, "Egress")):
            peers = rule_peers(rule, "Egress")
            blocks = [p["ipBlock"] for p in peers or [] if isinstance(p.get("ipBlock"), Mapping)]
            cidrs = [str(b.get("cidr")) for b in blocks] if peers is not None else ["0.0.0.0/0"]
            ports = rule_ports(rule)
            numbers = (
                None
                if ports is None
                else {("TCP" if p.get("protocol") is None else str(p["protocol"]), p.get("port")) for p in ports}
            )
            where = f"{policy.address} spec.egress[{index}]"
            if any(overlaps_any(c, data) for c in cidrs) and (numbers is None or not numbers <= wanted):
                violations.append(
                    Violation(
                        pod.address,
                        f"{where} to the data subnets",
                        _ports_text(wanted) or "no access",
                        "every port" if numbers is None else ", ".join(f"{n}/{p}" for p, n in sorted(numbers, key=str)),
                    )
                )
            reaches_store_port = numbers is None or any(n in store_ports for _p, n in numbers)
            if reaches_store_port and any(not within_any(c, data) for c in cidrs):
                violations.append(
                    Violation(
                        pod.address,
                        f"{where} destinations",
                        "only the data subnets",
                        [c for c in cidrs if not within_any(c, data)],
                    )
                )
    return violations


def _tier_cidrs(architecture: Architecture, tier: str) -> list[str]:
    cidrs = architecture.network.tiers.get(tier)  # type: ignore[call-overload]
    if cidrs is None:
        raise CheckError(f"reference network.tiers has no tier {tier!r}; it has {sorted(architecture.network.tiers)}")
    return list(cidrs)


@then(parsers.parse('every egress rule that opens {port:d}/TCP to addresses names only the "{tier}" subnets'))
def address_egress_only_to_tier(
    manifests: Facts, pods: list[Resource], architecture: Architecture, port: int, tier: str
) -> None:
    """Each egress rule of a policy selecting the pods that admits ``port``/TCP (by number, range or every port) and
    reaches addresses (an ipBlock, or no ``to`` at all: every address) may name only CIDRs inside the tier's subnets.
    Rules whose peers are all pod or namespace selectors are the call graph's business (REQ-NETPOL-002)."""
    allowed = _tier_cidrs(architecture, tier)
    policies = {p.address: p for pod in pods for p in policies_selecting(manifests, pod, "Egress")}
    violations = []
    for address, policy in sorted(policies.items()):
        for index, rule in enumerate(rules(policy, "Egress")):
            ports = rule_ports(rule)
            if ports is not None and not any(port_admits(p, "TCP", port, {}) for p in ports):
                continue
            peers = rule_peers(rule, "Egress")
            if peers is None:
                outside = ["0.0.0.0/0 (the rule names no peer: every address)"]
            else:
                cidrs = [str(p["ipBlock"].get("cidr")) for p in peers if isinstance(p.get("ipBlock"), Mapping)]
                outside = [cidr for cidr in cidrs if not within_any(cidr, allowed)]
            if outside:
                violations.append(
                    Violation(
                        address,
                        f"spec.egress[{index}] to addresses on {port}/TCP",
                        f"only the {tier} subnets {', '.join(allowed)}",
                        outside,
                    )
                )
    fail_if(violations, f"egress on {port}/TCP reaches addresses outside the {tier} subnets")


@then(parsers.parse('exactly the services with AWS permissions may reach every "{tier}" subnet on {port:d}/TCP'))
def aws_api_egress(manifests: Facts, pods: list[Resource], architecture: Architecture, tier: str, port: int) -> None:
    """A service with ``aws_permissions`` (an IRSA role: it needs STS at least) reaches each of the tier's subnets
    on ``port``; a service without them (or a pod of no reference service) reaches none of them."""
    subnets = _tier_cidrs(architecture, tier)
    violations = []
    for pod in pods:
        name = service_name(pod)
        service = architecture.services.get(name) if name else None  # type: ignore[call-overload]
        needs = bool(service is not None and service.aws_permissions)
        for cidr in subnets:
            allowed = direction_allows(manifests, pod, "Egress", Peer(ip=cidr), "TCP", port, None)
            if needs and not allowed:
                violations.append(
                    Violation(
                        pod.address,
                        f"egress to {cidr} ({tier} subnet)",
                        f"{port}/TCP (the AWS APIs behind the interface endpoints)",
                        "blocked",
                    )
                )
            elif allowed and not needs:
                violations.append(
                    Violation(
                        pod.address,
                        f"egress to {cidr} ({tier} subnet)",
                        "blocked (the service has no AWS permissions)",
                        f"{port}/TCP allowed",
                    )
                )
    fail_if(violations, f"{port}/TCP egress to the {tier} subnets differs from the services' AWS permissions")


# -------------------------------------------------------------------------------------------------- autoscaling


@given("the HorizontalPodAutoscalers of the reference services", target_fixture="hpas")
def reference_hpas(manifests: Facts, architecture: Architecture) -> dict[str, Resource]:
    deployments = _reference_deployments(manifests, architecture)
    found: dict[str, Resource] = {}
    violations = []
    for name, deployment in deployments.items():
        hpas = hpas_for(manifests, deployment)
        if len(hpas) != 1:
            violations.append(
                Violation(deployment.address, "HorizontalPodAutoscalers targeting it", 1, [h.address for h in hpas])
            )
        else:
            found[name] = hpas[0]
    fail_if(violations, "services without exactly one HPA")
    return found


def _cpu_target(hpa: Resource) -> Any:
    for metric in hpa.get("spec.metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            return (resource.get("target") or {}).get("averageUtilization")
    return None


@then("every HPA is autoscaling/v2 with the reference minimum, maximum and CPU utilization target")
def hpa_bounds(hpas: dict[str, Resource], architecture: Architecture) -> None:
    violations = []
    for name, hpa in hpas.items():
        bounds = architecture.services[name].autoscaling  # type: ignore[index]
        expected = {
            "apiVersion": "autoscaling/v2",
            "spec.minReplicas": bounds.min,
            "spec.maxReplicas": bounds.max,
            "cpu averageUtilization": bounds.cpu_target_percent,
        }
        found = {
            "apiVersion": hpa.get("apiVersion"),
            "spec.minReplicas": hpa.get("spec.minReplicas"),
            "spec.maxReplicas": hpa.get("spec.maxReplicas"),
            "cpu averageUtilization": _cpu_target(hpa),
        }
        violations += [
            Violation(hpa.address, key, value, found[key]) for key, value in expected.items() if found[key] != value
        ]
    fail_if(violations, "HPAs differ from the reference")


@then("every container of the autoscaled workloads requests CPU")
def cpu_requests(manifests: Facts, hpas: dict[str, Resource]) -> None:
    violations = []
    for hpa in hpas.values():
        targets = [
            w
            for w in workloads(manifests, namespace_of(hpa))
            if w.type == f"k8s/{hpa.get('spec.scaleTargetRef.kind')}"
            and name_of(w) == hpa.get("spec.scaleTargetRef.name")
        ]
        if not targets:
            violations.append(Violation(hpa.address, "spec.scaleTargetRef", "an existing workload", "none"))
        violations += [
            Violation(w.address, f"{c.path}.resources.requests.cpu", "a CPU request", None)
            for w in targets
            for c in main_containers(w)  # utilization averages over the containers the HPA reads
            if not c.get("resources.requests.cpu")
        ]
    fail_if(violations, "CPU utilization is undefined without CPU requests")


@then("every HPA writes its scale-up and scale-down behavior, with policies and a scale-down stabilization window")
def explicit_behavior(hpas: dict[str, Resource]) -> None:
    violations = []
    for hpa in hpas.values():
        for direction in ("scaleUp", "scaleDown"):
            rules_ = hpa.get(f"spec.behavior.{direction}")
            if not isinstance(rules_, Mapping) or not rules_.get("policies"):
                violations.append(Violation(hpa.address, f"spec.behavior.{direction}.policies", "written", None))
        if hpa.get("spec.behavior.scaleDown.stabilizationWindowSeconds") is None:
            violations.append(
                Violation(hpa.address, "spec.behavior.scaleDown.stabilizationWindowSeconds", "written", None)
            )
    fail_if(violations, "HPAs rely on the controller's implicit behavior")


@dataclass(frozen=True)
class Simulation:
    """One service's HPA driven through a load profile by conformance.hpa."""

    service: str
    hpa: Resource
    minimum: int
    maximum: int
    steps: list[Step]
    drop_at: float | None = None


def _simulate(
    manifests: Facts,
    hpas: dict[str, Resource],
    architecture: Architecture,
    phases: Callable[[int], list[Any]],
    drop_at: float | None,
) -> dict[str, Simulation]:
    runs: dict[str, Simulation] = {}
    errors = []
    for name, hpa in hpas.items():
        bounds = architecture.services[name].autoscaling  # type: ignore[index]
        try:
            spec = HpaSpec.from_manifest(hpa.values)
        except ValueError as exc:
            errors.append(Violation(hpa.address, "spec", "an HPA the controller can run", str(exc)))
            continue
        start = next(
            (
                int(d.get("spec.replicas", spec.min_replicas))
                for d in k8s(manifests, "Deployment", namespace_of(hpa))
                if name_of(d) == hpa.get("spec.scaleTargetRef.name")
            ),
            spec.min_replicas,
        )
        steps = simulate(spec, max(start, spec.min_replicas), phases(spec.target_cpu_utilization))
        runs[name] = Simulation(name, hpa, bounds.min, bounds.max, steps, drop_at)
    fail_if(errors, "HPAs the simulator cannot run")
    return runs


@when(
    parsers.parse("the CPU of every service runs at {factor:d} times its target for {minutes:d} minutes"),
    target_fixture="runs",
)
def sustained_load(
    manifests: Facts, hpas: dict[str, Resource], architecture: Architecture, factor: int, minutes: int
) -> dict[str, Simulation]:
    return _simulate(manifests, hpas, architecture, lambda target: [(minutes * 60, Utilization(factor * target))], None)


@when(
    parsers.parse(
        "the CPU of every service runs at {factor:d} times its target for {minutes:d} minutes, "
        "then at {percent:d}% of its requests for {after:d} minutes"
    ),
    target_fixture="runs",
)
def load_then_drop(
    manifests: Facts,
    hpas: dict[str, Resource],
    architecture: Architecture,
    factor: int,
    minutes: int,
    percent: int,
    after: int,
) -> dict[str, Simulation]:
    return _simulate(
        manifests,
        hpas,
        architecture,
        lambda target: [(minutes * 60, Utilization(factor * target)), (after * 60, Utilization(percent))],
        minutes * 60.0,
    )


@then(parsers.parse("every service scales above its reference minimum within {seconds:d} seconds"))
def scales_up_quickly(runs: dict[str, Simulation], seconds: int) -> None:
    violations = []
    for run in runs.values():
        first = next((s.t for s in run.steps if s.replicas > run.minimum), None)
        if first is None or first > seconds:
            violations.append(
                Violation(
                    run.hpa.address,
                    "first scale-up above the minimum",
                    f"within {seconds} s",
                    "never" if first is None else f"at {first:g} s",
                )
            )
    fail_if(violations, "services that do not scale up under load")


@then("no service ever runs more replicas than its reference maximum")
def never_above_maximum(runs: dict[str, Simulation]) -> None:
    fail_if(
        [
            Violation(run.hpa.address, "peak replicas", f"<= {run.maximum}", max(s.replicas for s in run.steps))
            for run in runs.values()
            if max(s.replicas for s in run.steps) > run.maximum
        ],
        "services exceed their maximum",
    )


@then("every service reaches its reference maximum")
def reaches_maximum(runs: dict[str, Simulation]) -> None:
    fail_if(
        [
            Violation(run.hpa.address, "peak replicas", run.maximum, max(s.replicas for s in run.steps))
            for run in runs.values()
            if max(s.replicas for s in run.steps) != run.maximum
        ],
        "services that cannot grow to their maximum",
    )


@then(parsers.parse("every service keeps its replicas for the {window:d} s stabilization window after the drop"))
def holds_after_drop(runs: dict[str, Simulation], window: int) -> None:
    violations = []
    for run in runs.values():
        # The window runs from the last sync that still saw the high load: its recommendation ages out after it.
        last_high = max((s for s in run.steps if s.t < (run.drop_at or 0.0)), key=lambda s: s.t, default=None)
        if last_high is None:
            continue
        early = [s for s in run.steps if last_high.t < s.t < last_high.t + window and s.replicas < last_high.replicas]
        if early:
            violations.append(
                Violation(
                    run.hpa.address,
                    "replicas after the drop",
                    f"{last_high.replicas} until {last_high.t + window:g} s",
                    f"{early[0].replicas} at {early[0].t:g} s",
                )
            )
    fail_if(violations, "services that scale down inside the stabilization window")


@then("every service is back at its reference minimum by the end")
def back_at_minimum(runs: dict[str, Simulation]) -> None:
    fail_if(
        [
            Violation(run.hpa.address, "replicas at the end", run.minimum, run.steps[-1].replicas)
            for run in runs.values()
            if run.steps[-1].replicas != run.minimum
        ],
        "services that do not return to their minimum",
    )


AUTODISCOVERY = re.compile(r"^--node-group-auto-discovery=asg:tag=(?P<tags>.+)$")


def _discovery_tags(manifests: Facts) -> tuple[Resource, list[str]]:
    autoscalers = select(
        manifests,
        "k8s/Deployment",
        lambda d: "cluster-autoscaler" in name_of(d),
        what="the cluster-autoscaler Deployment",
    )
    deployment = autoscalers[0]
    tags: list[str] = []
    for c in main_containers(deployment):
        for arg in list(c.spec.get("command") or []) + list(c.spec.get("args") or []):
            match = AUTODISCOVERY.match(str(arg))
            if match:
                tags += [t.split("=", 1)[0] for t in match["tags"].split(",")]
    return deployment, tags


@then(
    "the cluster-autoscaler discovers node groups by the tags "
    '"k8s.io/cluster-autoscaler/enabled" and "k8s.io/cluster-autoscaler/<cluster name>" of this environment'
)
def autoscaler_discovery(manifests: Facts) -> None:
    deployment, tags = _discovery_tags(manifests)
    expected = {"k8s.io/cluster-autoscaler/enabled", f"k8s.io/cluster-autoscaler/{cluster_name(manifests)}"}
    fail_if(
        [Violation(deployment.address, "--node-group-auto-discovery tags", sorted(expected), tags or None)]
        if set(tags) != expected
        else [],
        "the cluster-autoscaler would not discover this environment's node groups",
    )


@then("every EKS node group carries the tags the cluster-autoscaler discovers")
def node_groups_tagged(manifests: Facts, infra: Facts) -> None:
    _deployment, tags = _discovery_tags(manifests)
    groups = select(infra, "aws_eks_node_group", what="EKS managed node groups")
    violations = []
    for group in groups:
        present = group.tags
        violations += [Violation(group.address, f"tags[{tag}]", "set", None) for tag in tags if tag not in present]
        if group.get("cluster_name") not in (None, cluster_name(infra)) and isinstance(group.get("cluster_name"), str):
            violations.append(Violation(group.address, "cluster_name", cluster_name(infra), group.get("cluster_name")))
    if not tags:
        violations.append(Violation(_where(manifests), "--node-group-auto-discovery", "tags", None))
    fail_if(violations, "node groups the cluster-autoscaler cannot discover")


# -------------------------------------------------------------------------------------------------- observability


@then("every service has a ServiceMonitor selecting its Service and scraping a port the Service declares")
def service_monitors(manifests: Facts, architecture: Architecture) -> None:
    violations = []
    for name, service in architecture.services.items():
        services = [s for s in k8s(manifests, "Service", service.namespace) if service_name(s) == name]
        monitors = [
            m
            for m in k8s(manifests, "ServiceMonitor", service.namespace)
            if any(selector_matches(m.get("spec.selector"), labels_of(s.values)) for s in services)
        ]
        where = f"ServiceMonitor/{service.namespace}/{name}"
        if not services:
            violations.append(Violation(f"Service/{service.namespace}/{name}", "exists", "a Service", "none"))
        elif not monitors:
            violations.append(Violation(where, "exists", f"a ServiceMonitor selecting Service {name}", "none"))
        for monitor in monitors:
            declared = {p.get("name") for s in services for p in s.get("spec.ports") or []}
            endpoints = monitor.get("spec.endpoints") or []
            ports = [e.get("port") for e in endpoints]
            if not ports or any(p not in declared for p in ports):
                violations.append(
                    Violation(monitor.address, "spec.endpoints[].port", f"one of {sorted(declared)}", ports or None)
                )
            namespaces = monitor.get("spec.namespaceSelector.matchNames")
            if namespaces is not None and service.namespace not in namespaces:
                violations.append(
                    Violation(monitor.address, "spec.namespaceSelector.matchNames", service.namespace, namespaces)
                )
    fail_if(violations, "services Prometheus does not scrape")


def _dashboard_problems(text: str) -> list[str]:
    try:
        board = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"invalid JSON: {exc}"]
    panels = [p for p in board.get("panels") or [] if isinstance(p, Mapping)]
    panels += [inner for p in panels for inner in p.get("panels") or [] if isinstance(inner, Mapping)]
    queries = [p for p in panels if p.get("type") not in ("row", "text")]
    problems = [] if queries else ["no panel with queries"]
    for panel in queries:
        targets = panel.get("targets") or []
        if not targets or not all(str(t.get("expr", "")).strip() for t in targets):
            problems.append(f"panel {panel.get('title')!r} has no PromQL expr")
    return problems


@then(
    "every reference dashboard is a ConfigMap labelled grafana_dashboard=1 holding valid Grafana JSON "
    "whose panels query Prometheus"
)
def dashboards(manifests: Facts, architecture: Architecture) -> None:
    maps = [m for m in k8s(manifests, "ConfigMap") if labels_of(m.values).get("grafana_dashboard") == "1"]
    violations = []
    for board in architecture.observability.dashboards:
        holders = [(m, key) for m in maps for key in (m.get("data") or {}) if key == f"{board}.json"]
        if not holders:
            violations.append(
                Violation(
                    f"ConfigMap/*/grafana-dashboard-{board}",
                    f"data[{board}.json]",
                    "a dashboard ConfigMap labelled grafana_dashboard=1",
                    "none",
                )
            )
        for configmap, key in holders:
            violations += [
                Violation(configmap.address, f"data[{key}]", "a Grafana dashboard querying Prometheus", problem)
                for problem in _dashboard_problems(str(configmap.get("data")[key]))
            ]
    fail_if(violations, "dashboards missing or broken")


def _daemonsets(manifests: Facts, name: str) -> list[Resource]:
    return select(manifests, "k8s/DaemonSet", lambda d: name in name_of(d), what=f"a {name} DaemonSet")


def _mounted_configmaps(manifests: Facts, workload: Resource) -> list[Resource]:
    names = {(v.get("configMap") or {}).get("name") for v in pod_spec(workload).get("volumes") or []}
    return [m for m in k8s(manifests, "ConfigMap", namespace_of(workload)) if name_of(m) in names]


def _container_env(manifests: Facts, workload: Resource) -> dict[str, str]:
    env: dict[str, str] = {}
    for c in main_containers(workload):
        for item in c.spec.get("env") or []:
            if "value" in item:
                env[str(item["name"])] = str(item["value"])
            ref = (item.get("valueFrom") or {}).get("configMapKeyRef")
            if isinstance(ref, Mapping):
                for m in k8s(manifests, "ConfigMap", namespace_of(workload)):
                    if name_of(m) == ref.get("name") and ref.get("key") in (m.get("data") or {}):
                        env[str(item["name"])] = str(m.get("data")[ref["key"]])
    return env


def _fluent_outputs(text: str) -> list[dict[str, str]]:
    """The [OUTPUT] sections of a classic-mode Fluent Bit configuration."""
    outputs: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            current = {} if stripped.upper() == "[OUTPUT]" else None
            if current is not None:
                outputs.append(current)
        elif current is not None and stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition(" ")
            current[key.lower()] = value.strip()
    return outputs


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Fluent Bit's ``${VAR}`` substitution from the container's environment."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(str(m[1]), str(m[0])), text)


@then("a Fluent Bit DaemonSet ships container logs to the CloudWatch log groups of this cluster")
def fluent_bit(manifests: Facts, architecture: Architecture) -> None:
    prefix = f"/aws/containerinsights/{cluster_name(manifests)}/"
    violations = []
    for ds in _daemonsets(manifests, "fluent-bit"):
        env = _container_env(manifests, ds)
        outputs = [
            o
            for m in _mounted_configmaps(manifests, ds)
            for text in (m.get("data") or {}).values()
            for o in _fluent_outputs(str(text))
            if o.get("name") == "cloudwatch_logs"
        ]
        if not outputs:
            violations.append(Violation(ds.address, "[OUTPUT] cloudwatch_logs", "configured", None))
        for output in outputs:
            group = _expand(output.get("log_group_name", ""), env)
            region = _expand(output.get("region", ""), env)
            if not group.startswith(prefix):
                violations.append(Violation(ds.address, "log_group_name", f"{prefix}*", group))
            if region != architecture.region:
                violations.append(Violation(ds.address, "region", architecture.region, region))
    fail_if(violations, "logs do not reach CloudWatch")


@then("the X-Ray daemon runs as a DaemonSet receiving trace segments on port 2000/UDP")
def xray_daemon(manifests: Facts) -> None:
    violations = []
    for ds in _daemonsets(manifests, "xray"):
        ports = {
            (str(p.get("protocol", "TCP")), p.get("containerPort"))
            for c in main_containers(ds)
            for p in c.spec.get("ports") or []
        }
        if ("UDP", 2000) not in ports:
            violations.append(Violation(ds.address, "container ports", "2000/UDP", sorted(ports, key=str)))
        services = [
            s
            for s in k8s(manifests, "Service", namespace_of(ds))
            if selector_matches({"matchLabels": s.get("spec.selector") or {}}, pod_labels(ds))
            and s.get("spec.selector")
        ]
        if not services:
            violations.append(Violation(ds.address, "Service", "a Service in front of the daemon", "none"))
    fail_if(violations, "traces cannot reach the X-Ray daemon")


@then("metrics-server runs and serves the metrics.k8s.io API the HPAs read")
def metrics_server(manifests: Facts) -> None:
    select(manifests, "k8s/Deployment", lambda d: name_of(d) == "metrics-server", what="the metrics-server Deployment")
    services = select(
        manifests,
        "k8s/APIService",
        lambda a: name_of(a) == "v1beta1.metrics.k8s.io",
        what="the APIService v1beta1.metrics.k8s.io",
    )
    fail_if(
        [
            Violation(a.address, "spec.service.name", "metrics-server", a.get("spec.service.name"))
            for a in services
            if a.get("spec.service.name") != "metrics-server"
        ],
        "the metrics API is not served by metrics-server",
    )


# ---------------------------------------------------------------------------------------- IRSA (cross-artifact)


def _roles_by_name(infra: Facts) -> dict[str, Resource]:
    return {str(r.get("name")): r for r in infra.of_type("aws_iam_role") if isinstance(r.get("name"), str)}


def _trust_problems(infra: Facts, role: Resource, subject: str) -> list[Violation]:
    """The role's trust must let exactly ``subject`` assume it through the cluster's OIDC provider."""
    try:
        statements = policy_statements(infra, role.get("assume_role_policy"))
    except PolicyNotReadable as exc:
        return [Violation(role.address, "assume_role_policy", "a readable trust policy", str(exc))]
    web = [s for s in statements if s.effect == "Allow" and WEB_IDENTITY_ACTION in s.actions]
    if not web:
        return [Violation(role.address, "assume_role_policy", f"an Allow of {WEB_IDENTITY_ACTION}", "none")]
    return [v for statement in web for v in _statement_problems(role, statement, subject)]


def _condition_values(statement: Statement, key: str, looks_like: Callable[[str], bool]) -> list[tuple[str, Any]]:
    """(test, values) of the conditions on ``key``; a plan leaves the variable unknown, so then judge by the value."""
    return [
        (c.test, list(c.values))
        for c in statement.conditions
        if c.key == key or (c.key is None and c.values and all(looks_like(str(v)) for v in c.values))
    ]


def _statement_problems(role: Resource, statement: Statement, subject: str) -> list[Violation]:
    violations = []
    if "Federated" not in statement.principals:
        violations.append(
            Violation(
                role.address, "trust principal", "Federated (the cluster's OIDC provider)", sorted(statement.principals)
            )
        )
    subs = _condition_values(statement, "sub", lambda v: v.startswith("system:serviceaccount:"))
    if subs != [("StringEquals", [subject])]:
        violations.append(Violation(role.address, "trust condition sub", f"StringEquals {subject!r}", subs or None))
    auds = _condition_values(statement, "aud", lambda v: v == STS_AUDIENCE)
    if auds != [("StringEquals", [STS_AUDIENCE])]:
        violations.append(
            Violation(role.address, "trust condition aud", f"StringEquals {STS_AUDIENCE!r}", auds or None)
        )
    return violations


def _annotated_accounts(manifests: Facts) -> list[Resource]:
    return [s for s in k8s(manifests, "ServiceAccount") if annotations_of(s.values).get(ROLE_ARN_ANNOTATION)]


@then(
    parsers.parse(
        "every service's ServiceAccount names the Terraform IAM role \"{pattern}\" and that role's trust "
        "admits exactly this namespace and service account with the audience sts.amazonaws.com"
    )
)
def service_irsa(manifests: Facts, infra: Facts, architecture: Architecture, pattern: str) -> None:
    roles = _roles_by_name(infra)
    violations = []
    for name, service in architecture.services.items():
        accounts = [
            s for s in k8s(manifests, "ServiceAccount", service.namespace) if name_of(s) == service.service_account
        ]
        if not accounts:
            violations.append(
                Violation(
                    f"ServiceAccount/{service.namespace}/{service.service_account}",
                    "exists",
                    "a ServiceAccount",
                    "none",
                )
            )
            continue
        expected = pattern.replace("<cluster_name>", cluster_name(infra)).replace("<service>", name)
        violations += _account_problems(infra, roles, accounts[0], expected)
    fail_if(violations, "service accounts whose IRSA role is missing or trusts the wrong subject")


def _account_problems(
    infra: Facts, roles: dict[str, Resource], account: Resource, expected_role: str | re.Pattern[str]
) -> list[Violation]:
    arn = str(annotations_of(account.values).get(ROLE_ARN_ANNOTATION, ""))
    role_name = role_name_from_arn(arn)
    wanted = expected_role if isinstance(expected_role, str) else expected_role.pattern
    ok = (
        role_name == expected_role
        if isinstance(expected_role, str)
        else bool(role_name and expected_role.fullmatch(role_name))
    )
    if not ok:
        return [
            Violation(account.address, f"metadata.annotations[{ROLE_ARN_ANNOTATION}]", f"role {wanted}", arn or None)
        ]
    role = roles.get(str(role_name))
    if role is None:
        return [
            Violation(
                account.address, f"metadata.annotations[{ROLE_ARN_ANNOTATION}]", "a role the Terraform creates", arn
            )
        ]
    subject = f"system:serviceaccount:{namespace_of(account)}:{name_of(account)}"
    return _trust_problems(infra, role, subject)


@then(
    parsers.parse(
        'every other ServiceAccount with an IRSA role names a Terraform IAM role "{pattern}" whose trust '
        "admits exactly that service account"
    )
)
def addon_irsa(manifests: Facts, infra: Facts, architecture: Architecture, pattern: str) -> None:
    roles = _roles_by_name(infra)
    services: set[tuple[str | None, str]] = {(s.namespace, s.service_account) for s in architecture.services.values()}
    services |= _migration_accounts(manifests)  # REQ-IRSA-103
    accounts = [a for a in _annotated_accounts(manifests) if (namespace_of(a), name_of(a)) not in services]
    if not accounts:
        select(manifests, "k8s/ServiceAccount", lambda _a: False, what="add-on service accounts with an IRSA role")
    expected = re.compile(
        re.escape(pattern.replace("<cluster_name>", cluster_name(infra))).replace(re.escape("<addon>"), "[a-z0-9-]+")
    )
    fail_if(
        [v for a in accounts for v in _account_problems(infra, roles, a, expected)],
        "add-on service accounts whose IRSA role is missing or trusts the wrong subject",
    )


def _migration_accounts(manifests: Facts) -> set[tuple[str | None, str]]:
    """(namespace, name) of the ServiceAccounts the migration Jobs run under."""
    return {
        (namespace_of(j), str(pod_spec(j).get("serviceAccountName") or "default"))
        for j in k8s(manifests, "Job")
        if migrated_service(j) is not None
    }


@then(
    parsers.parse(
        "every migration Job's ServiceAccount names the Terraform IAM role \"{pattern}\" and that role's trust "
        "admits exactly this namespace and service account with the audience sts.amazonaws.com"
    )
)
def migration_irsa(manifests: Facts, infra: Facts, pattern: str) -> None:
    """The ServiceAccount of the migration Jobs (it reads the database owner's secret) has a role of its own,
    ``pattern`` with ``<account>`` its name: not a service's role, and no other service account may take it."""
    roles = _roles_by_name(infra)
    wanted = _migration_accounts(manifests)
    if not wanted:
        select(manifests, "k8s/Job", lambda _r: False, what="migration Jobs")
    violations = []
    for namespace, account in sorted(wanted, key=str):
        found = [a for a in k8s(manifests, "ServiceAccount", namespace) if name_of(a) == account]
        if not found:
            violations.append(Violation(f"ServiceAccount/{namespace}/{account}", "exists", "a ServiceAccount", "none"))
            continue
        expected = pattern.replace("<cluster_name>", cluster_name(infra)).replace("<account>", account)
        violations += _account_problems(infra, roles, found[0], expected)
    fail_if(violations, "migration service accounts whose IRSA role is missing or trusts the wrong subject")
