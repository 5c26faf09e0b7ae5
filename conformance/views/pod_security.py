"""The Pod Security Standards, control by control, as the upstream pod-security admission evaluates them.

Each control mirrors one check of ``k8s.io/pod-security-admission/policy`` (``check_*.go``) at v1.29, the seed's
floor (reference eks.min_version): it looks at the pod-level and container-level fields the upstream check looks at,
over init, regular and ephemeral containers, and returns one :class:`Violation` per offending field so that a
report names the exact place to fix. The controls work on any workload with a pod template.

The namespaces pin the cluster's version of the standard (reference eks.version, v1.35). Upstream changes after
v1.29 that these controls do not follow: two relaxations (SELinux type container_engine_t from v1.31, the sysctls
net.ipv4.tcp_rmem and tcp_wmem from v1.32: refused here, admitted by the cluster) and one new baseline control (no
``host`` in probes and lifecycle handlers, from v1.34: not checked here; tests/test_kubernetes_manifests_render.py
checks the manifests for it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conformance.facts import Resource
from conformance.outcomes import Violation
from conformance.views.kubernetes import Container, annotations_of, containers, pod_spec, pod_template

Control = Callable[[Resource], list[Violation]]

# check_capabilities_restricted.go: the only capability a restricted pod may add back.
RESTRICTED_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# check_restrictedVolumes.go: the volume sources a restricted pod may use.
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
# check_seLinuxOptions.go at v1.29 (container_engine_t joins at v1.31: refused here, see the module docstring).
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# check_sysctls.go: the safe set up to v1.29 (ip_local_reserved_ports from v1.27, the tcp_* ones from v1.29; v1.32's
# tcp_rmem and tcp_wmem are not in it).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _pod_sc(workload: Resource) -> Mapping[str, Any]:
    value = pod_spec(workload).get("securityContext") or {}
    return value if isinstance(value, Mapping) else {}


def _sc(container: Container) -> Mapping[str, Any]:
    value = container.spec.get("securityContext") or {}
    return value if isinstance(value, Mapping) else {}


def _at(container: Container, field: str) -> str:
    return f"{container.path}.securityContext.{field}"


def host_namespaces(workload: Resource) -> list[Violation]:
    """check_hostNamespaces.go + check_windowsHostProcess.go: no host network/PID/IPC, no Windows host process."""
    spec, found = pod_spec(workload), []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            found.append(Violation(workload.address, f"spec.{key}", "unset or false", True))
    if (_pod_sc(workload).get("windowsOptions") or {}).get("hostProcess") is True:
        found.append(Violation(workload.address, "securityContext.windowsOptions.hostProcess", "unset or false", True))
    for c in containers(workload):
        if (_sc(c).get("windowsOptions") or {}).get("hostProcess") is True:
            found.append(Violation(workload.address, _at(c, "windowsOptions.hostProcess"), "unset or false", True))
    return found


def privileged(workload: Resource) -> list[Violation]:
    """check_privileged.go."""
    return [
        Violation(workload.address, _at(c, "privileged"), "unset or false", True)
        for c in containers(workload)
        if _sc(c).get("privileged") is True
    ]


def capabilities(workload: Resource) -> list[Violation]:
    """check_capabilities_restricted.go: drop ALL; add nothing but NET_BIND_SERVICE."""
    found = []
    for c in containers(workload):
        caps = _sc(c).get("capabilities") or {}
        drop = caps.get("drop") or []
        if "ALL" not in drop:
            found.append(Violation(workload.address, _at(c, "capabilities.drop"), "to contain 'ALL'", drop or None))
        extra = sorted(set(caps.get("add") or []) - RESTRICTED_ADDABLE_CAPABILITIES)
        if extra:
            found.append(Violation(workload.address, _at(c, "capabilities.add"), "nothing but NET_BIND_SERVICE", extra))
    return found


def volumes(workload: Resource) -> list[Violation]:
    """check_hostPathVolumes.go (baseline) and check_restrictedVolumes.go."""
    found = []
    for volume in pod_spec(workload).get("volumes") or []:
        kinds = sorted(set(volume) - {"name"})
        bad = [k for k in kinds if k not in RESTRICTED_VOLUME_TYPES]
        if bad:
            found.append(
                Violation(
                    workload.address,
                    f"spec.volumes[{volume.get('name')}]",
                    f"one of {sorted(RESTRICTED_VOLUME_TYPES)}",
                    ", ".join(bad),
                )
            )
    return found


def host_ports(workload: Resource) -> list[Violation]:
    """check_hostPorts.go: hostPort unset or 0."""
    return [
        Violation(
            workload.address,
            f"{c.path}.ports[{port.get('name') or port.get('containerPort')}].hostPort",
            "unset or 0",
            port["hostPort"],
        )
        for c in containers(workload)
        for port in c.spec.get("ports") or []
        if port.get("hostPort")
    ]


def apparmor(workload: Resource) -> list[Violation]:
    """check_appArmorProfile.go: the beta annotations and (1.30+) the field may not be Unconfined or custom."""
    found = []
    for key, value in annotations_of(pod_template(workload)).items():
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            found.append(
                Violation(workload.address, f"metadata.annotations[{key}]", "runtime/default or localhost/*", value)
            )
    profiles = [("securityContext.appArmorProfile", _pod_sc(workload).get("appArmorProfile"))]
    profiles += [(_at(c, "appArmorProfile"), _sc(c).get("appArmorProfile")) for c in containers(workload)]
    for where, profile in profiles:
        if isinstance(profile, Mapping) and profile.get("type") not in ALLOWED_SECCOMP:
            found.append(
                Violation(workload.address, where + ".type", "RuntimeDefault or Localhost", profile.get("type"))
            )
    return found


def selinux(workload: Resource) -> list[Violation]:
    """check_seLinuxOptions.go: type among the container types; user and role never set."""
    options = [("securityContext.seLinuxOptions", _pod_sc(workload).get("seLinuxOptions"))]
    options += [(_at(c, "seLinuxOptions"), _sc(c).get("seLinuxOptions")) for c in containers(workload)]
    found = []
    for where, option in options:
        if not isinstance(option, Mapping):
            continue
        if str(option.get("type") or "") not in ALLOWED_SELINUX_TYPES:
            found.append(Violation(workload.address, f"{where}.type", sorted(ALLOWED_SELINUX_TYPES), option["type"]))
        for key in ("user", "role"):
            if option.get(key):
                found.append(Violation(workload.address, f"{where}.{key}", "unset", option[key]))
    return found


def proc_mount(workload: Resource) -> list[Violation]:
    """check_procMount.go: the default (masked) /proc."""
    return [
        Violation(workload.address, _at(c, "procMount"), "unset or Default", _sc(c)["procMount"])
        for c in containers(workload)
        if _sc(c).get("procMount") not in (None, "Default")
    ]


def seccomp(workload: Resource) -> list[Violation]:
    """check_seccompProfile_restricted.go: RuntimeDefault or Localhost at pod level or on every container."""
    pod_type = (_pod_sc(workload).get("seccompProfile") or {}).get("type")
    found = []
    if pod_type is not None and pod_type not in ALLOWED_SECCOMP:
        found.append(
            Violation(workload.address, "securityContext.seccompProfile.type", sorted(ALLOWED_SECCOMP), pod_type)
        )
    for c in containers(workload):
        own = (_sc(c).get("seccompProfile") or {}).get("type")
        if own is not None and own not in ALLOWED_SECCOMP:
            found.append(Violation(workload.address, _at(c, "seccompProfile.type"), sorted(ALLOWED_SECCOMP), own))
        elif own is None and pod_type is None:
            found.append(
                Violation(
                    workload.address,
                    _at(c, "seccompProfile.type"),
                    "RuntimeDefault or Localhost (here or at pod level)",
                    None,
                )
            )
    return found


def sysctls(workload: Resource) -> list[Violation]:
    """check_sysctls.go."""
    return [
        Violation(workload.address, f"securityContext.sysctls[{s.get('name')}]", "a safe sysctl", s.get("name"))
        for s in _pod_sc(workload).get("sysctls") or []
        if s.get("name") not in SAFE_SYSCTLS
    ]


def privilege_escalation(workload: Resource) -> list[Violation]:
    """check_allowPrivilegeEscalation.go: explicitly false on every container."""
    return [
        Violation(workload.address, _at(c, "allowPrivilegeEscalation"), False, _sc(c).get("allowPrivilegeEscalation"))
        for c in containers(workload)
        if _sc(c).get("allowPrivilegeEscalation") is not False
    ]


def run_as_non_root(workload: Resource) -> list[Violation]:
    """check_runAsNonRoot.go and check_runAsUser.go: non-root required, never UID 0."""
    pod = _pod_sc(workload)
    found = []
    if pod.get("runAsNonRoot") is False:
        found.append(Violation(workload.address, "securityContext.runAsNonRoot", True, False))
    if pod.get("runAsUser") == 0:
        found.append(Violation(workload.address, "securityContext.runAsUser", "not 0", 0))
    for c in containers(workload):
        own = _sc(c).get("runAsNonRoot")
        if own is False or (own is None and pod.get("runAsNonRoot") is not True):
            found.append(Violation(workload.address, _at(c, "runAsNonRoot"), "true (here or at pod level)", own))
        if _sc(c).get("runAsUser") == 0:
            found.append(Violation(workload.address, _at(c, "runAsUser"), "not 0", 0))
    return found


def read_only_root_filesystem(workload: Resource) -> list[Violation]:
    """The seed's "read-only file systems" (not part of the restricted profile, which leaves it optional)."""
    return [
        Violation(workload.address, _at(c, "readOnlyRootFilesystem"), True, _sc(c).get("readOnlyRootFilesystem"))
        for c in containers(workload, ("initContainers", "containers"))
        if _sc(c).get("readOnlyRootFilesystem") is not True
    ]


def resource_limits(workload: Resource) -> list[Violation]:
    """The seed's "CPU and memory limits prevent resource exhaustion"."""
    found = []
    for c in containers(workload, ("initContainers", "containers")):
        limits = c.get("resources.limits", {})
        missing = [r for r in ("cpu", "memory") if not limits.get(r)]
        if missing:
            found.append(
                Violation(workload.address, f"{c.path}.resources.limits", "cpu and memory", dict(limits) or None)
            )
    return found
