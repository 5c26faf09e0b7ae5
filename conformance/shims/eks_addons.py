"""EKS add-ons and identity-provider configs on moto's EKS.

moto 5.2 implements clusters, node groups and Fargate profiles but no add-on or identity-provider-config operation:
the requests match no route and come back 404, so ``aws_eks_addon`` can never be created. The shim adds the routes
and a small in-memory model on each EKS backend: add-ons are ACTIVE at once (as the state transitions of every other
emulated resource are), updates are Successful at once, deleted ones are gone at once.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

GAP = "EKS add-on and identity-provider-config operations return 404"

_ROUTES = {
    "{0}/clusters/(?P<name>[^/]+)/addons$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/identity-provider-configs$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/identity-provider-configs/associate$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/identity-provider-configs/describe$": "dispatch",
    "{0}/clusters/(?P<name>[^/]+)/identity-provider-configs/disassociate$": "dispatch",
    "{0}/addons/supported-versions$": "dispatch",
}

DEFAULT_ADDON_VERSION = "v1.0.0-eksbuild.1"


def _store(backend: Any) -> dict[str, dict[str, Any]]:
    # Kept on the backend instance so moto's reset (/moto-api/reset) forgets add-ons with everything else.
    if not hasattr(backend, "_shim_eks_extras"):
        backend._shim_eks_extras = {"addons": {}, "updates": {}, "idps": {}}
    store: dict[str, dict[str, Any]] = backend._shim_eks_extras
    return store


def _not_found(message: str, **fields: Any) -> Any:
    from moto.eks.exceptions import ResourceNotFoundException

    return ResourceNotFoundException(message=message, **fields)


def _update(store: dict[str, dict[str, Any]], kind: str, params: list[dict[str, str]]) -> dict[str, Any]:
    update_id = str(uuid.uuid4())
    update: dict[str, Any] = {
        "id": update_id,
        "status": "Successful",
        "type": kind,
        "params": params,
        "createdAt": time.time(),
        "errors": [],
    }
    store["updates"][update_id] = update
    return update


def _cluster(response: Any) -> Any:
    name = response._get_param("name")
    cluster = response.eks_backend.clusters.get(name)
    if cluster is None:
        raise _not_found(f"No cluster found for name: {name}.", clusterName=name)
    return cluster


def create_addon(self: Any) -> str:
    cluster = _cluster(self)
    store = _store(self.eks_backend)
    name = self._get_param("addonName")
    key = f"{cluster.name}/{name}"
    if key in store["addons"]:
        from moto.eks.exceptions import ResourceInUseException

        raise ResourceInUseException(clusterName=cluster.name, addonName=name, message=f"Addon already exists: {name}")
    now = time.time()
    addon = {
        "addonName": name,
        "clusterName": cluster.name,
        "status": "ACTIVE",
        "addonVersion": self._get_param("addonVersion") or DEFAULT_ADDON_VERSION,
        "health": {"issues": []},
        "addonArn": f"arn:aws:eks:{self.region}:{self.current_account}:addon/{cluster.name}/{name}/{uuid.uuid4()}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": self._get_param("tags") or {},
    }
    for field in ("serviceAccountRoleArn", "configurationValues"):
        if self._get_param(field):
            addon[field] = self._get_param(field)
    store["addons"][key] = addon
    return json.dumps({"addon": addon})


def _addon(self: Any) -> tuple[str, dict[str, Any]]:
    cluster = _cluster(self)
    name = self._get_param("addonName")
    key = f"{cluster.name}/{name}"
    addon = _store(self.eks_backend)["addons"].get(key)
    if addon is None:
        raise _not_found(f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name)
    return key, addon


def describe_addon(self: Any) -> str:
    return json.dumps({"addon": _addon(self)[1]})


def delete_addon(self: Any) -> str:
    key, addon = _addon(self)
    del _store(self.eks_backend)["addons"][key]
    return json.dumps({"addon": {**addon, "status": "DELETING"}})


def update_addon(self: Any) -> str:
    _, addon = _addon(self)
    params = []
    for field in ("addonVersion", "serviceAccountRoleArn", "configurationValues"):
        value = self._get_param(field)
        if value is not None:
            addon[field] = value
            params.append({"type": field[0].upper() + field[1:], "value": str(value)})
    addon["modifiedAt"] = time.time()
    return json.dumps({"update": _update(_store(self.eks_backend), "AddonUpdate", params)})


def list_addons(self: Any) -> str:
    cluster = _cluster(self)
    names = [a["addonName"] for a in _store(self.eks_backend)["addons"].values() if a["clusterName"] == cluster.name]
    return json.dumps({"addons": sorted(names)})


def describe_update(self: Any) -> str:
    update = _store(self.eks_backend)["updates"].get(self._get_param("updateId"))
    if update is None:
        raise _not_found(f"No update found for id: {self._get_param('updateId')}")
    return json.dumps({"update": update})


def describe_addon_versions(self: Any) -> str:
    name = self._get_param("addonName")
    versions = [{"addonVersion": DEFAULT_ADDON_VERSION, "compatibilities": [{"defaultVersion": True}]}]
    return json.dumps({"addons": [{"addonName": name, "type": "networking", "addonVersions": versions}]})


def associate_identity_provider_config(self: Any) -> str:
    cluster = _cluster(self)
    oidc = dict(self._get_param("oidc") or {})
    name = oidc.get("identityProviderConfigName", "")
    store = _store(self.eks_backend)
    store["idps"][f"{cluster.name}/{name}"] = {
        **oidc,
        "clusterName": cluster.name,
        "identityProviderConfigArn": (
            f"arn:aws:eks:{self.region}:{self.current_account}:identityproviderconfig/{cluster.name}/oidc/{name}/"
            f"{uuid.uuid4()}"
        ),
        "tags": self._get_param("tags") or {},
        "status": "ACTIVE",
    }
    update = _update(store, "AssociateIdentityProviderConfig", [])
    return json.dumps({"update": update, "tags": self._get_param("tags") or {}})


def _idp(self: Any) -> tuple[str, dict[str, Any]]:
    cluster = _cluster(self)
    name = (self._get_param("identityProviderConfig") or {}).get("name", "")
    key = f"{cluster.name}/{name}"
    config = _store(self.eks_backend)["idps"].get(key)
    if config is None:
        raise _not_found(f"No identity provider config {name} in cluster {cluster.name}", clusterName=cluster.name)
    return key, config


def describe_identity_provider_config(self: Any) -> str:
    return json.dumps({"identityProviderConfig": {"oidc": _idp(self)[1]}})


def disassociate_identity_provider_config(self: Any) -> str:
    key, _ = _idp(self)
    store = _store(self.eks_backend)
    del store["idps"][key]
    return json.dumps({"update": _update(store, "DisassociateIdentityProviderConfig", [])})


def list_identity_provider_configs(self: Any) -> str:
    cluster = _cluster(self)
    configs = [
        {"type": "oidc", "name": c.get("identityProviderConfigName")}
        for c in _store(self.eks_backend)["idps"].values()
        if c["clusterName"] == cluster.name
    ]
    return json.dumps({"identityProviderConfigs": configs})


_OPERATIONS = (
    create_addon,
    describe_addon,
    delete_addon,
    update_addon,
    list_addons,
    describe_update,
    describe_addon_versions,
    associate_identity_provider_config,
    describe_identity_provider_config,
    disassociate_identity_provider_config,
    list_identity_provider_configs,
)


def apply() -> None:
    from moto.eks import urls
    from moto.eks.responses import EKSResponse

    for operation in _OPERATIONS:
        if not hasattr(EKSResponse, operation.__name__):  # never replace what moto implements itself
            setattr(EKSResponse, operation.__name__, operation)
    for path in _ROUTES:
        urls.url_paths.setdefault(path, urls.response.dispatch)


# ----------------------------------------------------------------------- settings moto accepts but does not keep

CONFIG_GAP = "create_cluster drops accessConfig and create_nodegroup drops updateConfig"


def keep_creation_settings() -> None:
    """Keep ``accessConfig`` of a new cluster and ``updateConfig`` of a new node group, which moto drops (its
    models have the fields; only the create calls ignore them), so the provider and the collectors read them back."""
    from moto.eks.responses import EKSResponse

    create_cluster = EKSResponse.create_cluster
    if getattr(create_cluster, "__shimmed__", False):
        return
    create_nodegroup = EKSResponse.create_nodegroup

    def create_cluster_keeping(self: Any) -> Any:
        result = create_cluster(self)
        access = self._get_param("accessConfig")
        cluster = self.eks_backend.clusters.get(self._get_param("name"))
        if cluster is not None:
            cluster.access_config = {
                "authenticationMode": (access or {}).get("authenticationMode", "CONFIG_MAP"),
                "bootstrapClusterCreatorAdminPermissions": (access or {}).get(
                    "bootstrapClusterCreatorAdminPermissions", True
                ),
            }
        return result

    def create_nodegroup_keeping(self: Any) -> Any:
        result = create_nodegroup(self)
        update = self._get_param("updateConfig")
        cluster = self.eks_backend.clusters.get(self._get_param("name"))
        group = cluster.nodegroups.get(self._get_param("nodegroupName")) if cluster is not None else None
        if group is not None:
            group.update_config = update or {"maxUnavailable": 1}
        return result

    create_cluster_keeping.__shimmed__ = True  # type: ignore[attr-defined]
    EKSResponse.create_cluster = create_cluster_keeping  # type: ignore[method-assign]
    EKSResponse.create_nodegroup = create_nodegroup_keeping  # type: ignore[method-assign]
