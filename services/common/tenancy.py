"""The tenant of the current request: validated from gRPC metadata ``x-tenant-id`` and held in a contextvar.

The pattern is the one in reference/architecture.yaml (tenancy.tenant_id_pattern), read from that file so the
services and the reference cannot drift apart.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

METADATA_KEY = "x-tenant-id"
_FALLBACK_PATTERN = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"


def _load_pattern() -> str:
    # find_spec does not execute reference/__init__ (which pulls in pydantic); we only need the YAML file.
    spec = importlib.util.find_spec("reference")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "architecture.yaml"
        if path.is_file():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return str(data["tenancy"]["tenant_id_pattern"])
    return _FALLBACK_PATTERN


TENANT_ID_PATTERN = _load_pattern()
_TENANT_RE = re.compile(TENANT_ID_PATTERN)
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("shop_tenant", default=None)


class MissingTenantError(LookupError):
    """Code asked for the tenant outside a tenant-scoped request."""


def is_valid_tenant_id(value: str) -> bool:
    # fullmatch: "$" alone would accept a trailing newline.
    return _TENANT_RE.fullmatch(value) is not None


def current_tenant() -> str:
    tenant = _current.get()
    if tenant is None:
        raise MissingTenantError("no tenant in context: the request carried no x-tenant-id metadata")
    return tenant


def tenant_or_none() -> str | None:
    return _current.get()


@contextlib.contextmanager
def tenant_context(tenant_id: str) -> Iterator[str]:
    """Run a block as ``tenant_id`` (used by the interceptor, background jobs and tests)."""
    if not is_valid_tenant_id(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}: must match {TENANT_ID_PATTERN}")
    token = _current.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _current.reset(token)
