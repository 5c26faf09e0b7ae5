"""Render the Kubernetes overlays offline and turn every object into a fact of type ``k8s/<Kind>``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from conformance.facts import Resource
from conformance.outcomes import CheckError


class KubectlMissing(CheckError):
    """kubectl (with its built-in kustomize) is not on PATH."""


def object_address(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{obj.get('kind', '<no kind>')}/{namespace}/{name}" if namespace else f"{obj.get('kind')}/{name}"


def to_resources(objects: Iterable[Mapping[str, Any]]) -> list[Resource]:
    resources = []
    for obj in objects:
        values = dict(obj)
        values.setdefault("id", object_address(obj))
        resources.append(Resource(type=f"k8s/{obj.get('kind')}", address=object_address(obj), values=values))
    return resources


def load_documents(text: str, origin: str) -> list[dict[str, Any]]:
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as exc:
        raise CheckError(f"{origin}: not valid YAML: {exc}") from exc
    for doc in documents:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise CheckError(f"{origin}: expected Kubernetes objects with a kind, found {str(doc)[:80]!r}")
    return documents


def render_overlay(overlay: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize <overlay>`: the objects that `kubectl apply -k` would send."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise KubectlMissing("kubectl not found on PATH: install kubectl >= 1.28 (it renders the kustomize overlays)")
    if not (overlay / "kustomization.yaml").is_file():
        raise CheckError(f"{overlay}: no kustomization.yaml; expected a kustomize overlay")
    result = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise CheckError(f"kubectl kustomize {overlay} failed: {result.stderr.strip()[:2000]}")
    return load_documents(result.stdout, str(overlay))
