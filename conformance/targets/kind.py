"""The kind target: the same ``k8s/<Kind>`` facts, read from a live cluster (kind, EKS...) via the current kube-context.

Read-only by construction: the collector issues ``GET`` on the cluster-wide *list* endpoint of each kind the
workload features read, and nothing else (no watch, no write, no Secrets). The objects come back as raw JSON
(``call_api`` without model deserialisation), so they keep the API's camelCase field names and look exactly like
the rendered manifests, plus whatever the API server defaulted. Server bookkeeping (``managedFields``) and
``status`` are dropped: requirements are about the desired state.

Not observable here: ``terraform``/``aws`` (cross-artifact scenarios say so). No kubeconfig means the target cannot
observe Kubernetes (reported as not observable, with how to fix it); a kubeconfig whose cluster does not answer, or
refuses the reads, is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from conformance.facts import Facts
from conformance.manifests import to_resources
from conformance.targets.base import Target, register


@dataclass(frozen=True)
class Kind:
    """A kind the features read: its list path and whether a missing API (CRD not installed) is acceptable."""

    kind: str
    api_version: str
    plural: str
    optional: bool = False

    @property
    def path(self) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{prefix}/{self.plural}"


KINDS = (
    Kind("Namespace", "v1", "namespaces"),
    Kind("ServiceAccount", "v1", "serviceaccounts"),
    Kind("ConfigMap", "v1", "configmaps"),
    Kind("Service", "v1", "services"),
    Kind("Deployment", "apps/v1", "deployments"),
    Kind("StatefulSet", "apps/v1", "statefulsets"),
    Kind("DaemonSet", "apps/v1", "daemonsets"),
    Kind("Job", "batch/v1", "jobs"),
    Kind("CronJob", "batch/v1", "cronjobs"),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
    Kind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets"),
    Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses"),
    Kind("APIService", "apiregistration.k8s.io/v1", "apiservices"),
    # Custom resources of add-ons that may not be installed: their absence is recorded, not fatal.
    Kind("ServiceMonitor", "monitoring.coreos.com/v1", "servicemonitors", optional=True),
    Kind("ExternalSecret", "external-secrets.io/v1beta1", "externalsecrets", optional=True),
    Kind("ClusterSecretStore", "external-secrets.io/v1beta1", "clustersecretstores", optional=True),
)


class ApiError(Exception):
    """A list call failed; ``status`` is the HTTP status (0 when the server could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ListApi(Protocol):
    """What the collector needs of a cluster: GET a list endpoint, get its JSON."""

    def get_list(self, path: str) -> Mapping[str, Any]: ...


def collect(api: ListApi, kinds: tuple[Kind, ...] = KINDS) -> tuple[list[dict[str, Any]], list[str]]:
    """Every object of ``kinds`` in the cluster, shaped like a manifest; and the optional kinds the API lacks."""
    objects: list[dict[str, Any]] = []
    missing: list[str] = []
    for kind in kinds:
        try:
            listing = api.get_list(kind.path)
        except ApiError as exc:
            if exc.status == 404 and kind.optional:
                missing.append(f"{kind.kind} ({kind.api_version})")
                continue
            raise
        objects += [_as_manifest(item, kind) for item in listing.get("items") or []]
    return objects, missing


def _as_manifest(item: Mapping[str, Any], kind: Kind) -> dict[str, Any]:
    # List items carry neither kind nor apiVersion; the steps and addresses need both.
    obj = {"apiVersion": kind.api_version, "kind": kind.kind, **{k: v for k, v in item.items() if k != "status"}}
    metadata = dict(obj.get("metadata") or {})
    metadata.pop("managedFields", None)
    obj["metadata"] = metadata
    return obj


class KubernetesClientApi:
    """:class:`ListApi` over the official kubernetes client, with raw JSON responses."""

    def __init__(self, api_client: Any) -> None:
        self._client = api_client

    def get_list(self, path: str) -> Mapping[str, Any]:
        from kubernetes.client.exceptions import ApiException  # the client is an optional dependency

        try:
            response = self._client.call_api(
                path,
                "GET",
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=30,
            )
        except ApiException as exc:
            raise ApiError(int(exc.status or 0), f"GET {path}: {exc.status} {exc.reason}") from exc
        except Exception as exc:  # urllib3 connection and TLS failures
            raise ApiError(0, f"GET {path}: cluster not reachable: {exc}") from exc
        data = json.loads(response.data)
        return data if isinstance(data, Mapping) else {}


def kubeconfig_api(context: str | None = None) -> tuple[KubernetesClientApi, str]:
    """A :class:`ListApi` for the current (or named) kube-context, and a description of the cluster it talks to.

    Raises ``LookupError`` with a person's message when there is no usable kubeconfig.
    """
    try:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
    except ImportError as exc:
        raise LookupError("the kubernetes client is not installed: pip install 'eks-shop[kind]'") from exc
    # The client reads $KUBECONFIG once, at import; read it per call so a changed environment is honoured.
    config_file = os.environ.get("KUBECONFIG") or None
    try:
        api_client = config.new_client_from_config(config_file=config_file, context=context)
        _contexts, active = config.list_kube_config_contexts(config_file=config_file)
    except (ConfigException, FileNotFoundError, TypeError) as exc:
        raise LookupError(
            f"no usable kubeconfig ({exc}); create a cluster (kind create cluster) or set KUBECONFIG "
            "and the current context (kubectl config use-context ...)"
        ) from exc
    name = context or (active or {}).get("name", "?")
    host = api_client.configuration.host
    return KubernetesClientApi(api_client), f"context {name} at {host}"


@register
class KindTarget(Target):
    name = "kind"
    description = "a live cluster (kind or any other) read with the kubernetes client through the current kube-context"
    sources = frozenset({"kubernetes"})

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._api: ListApi | None = None
        self._cluster = ""
        self._problem: str | None = None

    def prepare(self) -> None:
        try:
            self._api, self._cluster = kubeconfig_api()
        except LookupError as exc:
            self._problem = str(exc)
            self.context.progress(f"not observable: {exc}")

    def observe(self) -> Facts:
        facts = Facts(target=self.name, environment=self.context.environment)
        for source, why in (("terraform", "a cluster holds no Terraform plan"), ("aws", "read with --target aws")):
            facts.unavailable[source] = why
        if self._api is None:
            facts.unavailable["kubernetes"] = self._problem or "prepare() was not run"
            return facts
        try:
            objects, missing = collect(self._api)
        except ApiError as exc:
            facts.errors["kubernetes"] = f"{self._cluster}: {exc}"
            return facts
        facts.add(to_resources(objects))
        facts.sources.add("kubernetes")
        facts.metadata["cluster"] = self._cluster
        facts.metadata["kinds_not_served"] = missing
        self.context.progress(f"read {len(objects)} objects from {self._cluster}")
        return facts
