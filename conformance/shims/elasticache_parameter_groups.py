"""ElastiCache cache parameter groups.

moto 5.2 has no CreateCacheParameterGroup (NotImplementedError, HTTP 500) nor describe/modify/delete, and its ARN
check for tags knows no ``parametergroup`` ARNs. The shim keeps parameter groups in a dict on the backend, answers the
five operations the provider uses, and lets tags be read and written on their ARNs.
"""

from __future__ import annotations

import re
from typing import Any

GAP = "CreateCacheParameterGroup is not implemented (HTTP 500)"


def _groups(backend: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(backend, "_shim_parameter_groups"):
        backend._shim_parameter_groups = {}
    groups: dict[str, dict[str, Any]] = backend._shim_parameter_groups
    return groups


def _not_found(name: str) -> Exception:
    from moto.core.exceptions import ServiceException

    class CacheParameterGroupNotFound(ServiceException):
        code = "CacheParameterGroupNotFound"

    return CacheParameterGroupNotFound(f"CacheParameterGroup {name} not found.")


def create_cache_parameter_group(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self.elasticache_backend
    name = self._get_param("CacheParameterGroupName")
    group = {
        "CacheParameterGroupName": name,
        "CacheParameterGroupFamily": self._get_param("CacheParameterGroupFamily"),
        "Description": self._get_param("Description"),
        "IsGlobal": False,
        "ARN": f"arn:aws:elasticache:{backend.region_name}:{backend.account_id}:parametergroup:{name}",
        "_parameters": {},
    }
    _groups(backend)[name] = group
    tags = self._get_param("Tags") or []
    if tags:
        backend.tagging_service.tag_resource(group["ARN"], tags)
    return ActionResult({"CacheParameterGroup": _public(group)})


def _public(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if not k.startswith("_")}


def describe_cache_parameter_groups(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("CacheParameterGroupName")
    groups = _groups(self.elasticache_backend)
    if name and name not in groups:
        raise _not_found(name)
    found = [groups[name]] if name else list(groups.values())
    return ActionResult({"CacheParameterGroups": [_public(g) for g in found]})


def modify_cache_parameter_group(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("CacheParameterGroupName")
    group = _groups(self.elasticache_backend).get(name)
    if group is None:
        raise _not_found(name)
    for item in self._get_param("ParameterNameValues") or []:
        group["_parameters"][item["ParameterName"]] = item.get("ParameterValue")
    return ActionResult({"CacheParameterGroupName": name})


def reset_cache_parameter_group(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("CacheParameterGroupName")
    group = _groups(self.elasticache_backend).get(name)
    if group is None:
        raise _not_found(name)
    names = [p["ParameterName"] for p in self._get_param("ParameterNameValues") or []]
    for parameter in names or list(group["_parameters"]):
        group["_parameters"].pop(parameter, None)
    return ActionResult({"CacheParameterGroupName": name})


def describe_cache_parameters(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("CacheParameterGroupName")
    group = _groups(self.elasticache_backend).get(name)
    if group is None:
        raise _not_found(name)
    parameters = [
        {"ParameterName": k, "ParameterValue": v, "Source": "user", "IsModifiable": True, "DataType": "string"}
        for k, v in sorted(group["_parameters"].items())
    ]
    return ActionResult({"Parameters": parameters})


def delete_cache_parameter_group(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    name = self._get_param("CacheParameterGroupName")
    if _groups(self.elasticache_backend).pop(name, None) is None:
        raise _not_found(name)
    return EmptyResult()


_OPERATIONS = (
    create_cache_parameter_group,
    describe_cache_parameter_groups,
    modify_cache_parameter_group,
    reset_cache_parameter_group,
    describe_cache_parameters,
    delete_cache_parameter_group,
)


def apply() -> None:
    from moto.elasticache import models
    from moto.elasticache.responses import ElastiCacheResponse

    for operation in _OPERATIONS:
        if operation.__name__ not in ElastiCacheResponse.__dict__:  # never replace what moto implements itself
            setattr(ElastiCacheResponse, operation.__name__, operation)
    original_init = models.ElastiCacheBackend.__init__
    if getattr(original_init, "__shimmed__", False):
        return

    def __init__(self: Any, region_name: str, account_id: str) -> None:
        original_init(self, region_name, account_id)
        # Tags on parameter groups: widen the ARN check that guards ListTagsForResource.
        self.arn_regex = re.compile(self.arn_regex.pattern.replace("(cluster|", "(cluster|parametergroup|"))

    __init__.__shimmed__ = True  # type: ignore[attr-defined]
    models.ElastiCacheBackend.__init__ = __init__  # type: ignore[method-assign]
