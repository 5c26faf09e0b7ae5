"""Who is calling, from gRPC metadata set by the gateway.

Trust model: only the gateway reaches orders (NetworkPolicy in the cluster; loopback locally). The gateway
verifies the access token and forwards, as metadata:

- ``x-tenant-id``: the token's ``tenant`` claim (required on every call);
- ``x-user-id``: the token's ``sub`` (the end user);
- ``x-user-role``: ``customer`` (default) or ``admin`` (storefront staff of that tenant).

Rules (enforced in ``service.py``): a customer reads, lists and cancels only their own orders and may cancel
only while PENDING; an admin reads any order of *their tenant* and performs staff transitions
(CONFIRMED, SHIPPED, DELIVERED, CANCELLED). The proto's ``user_id`` request fields must agree with
``x-user-id`` when both are present (a disagreement is PERMISSION_DENIED). Nothing crosses tenants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.orders.domain.errors import InvalidArgument, PermissionDenied, Unauthenticated

TENANT_KEY = "x-tenant-id"
USER_KEY = "x-user-id"
ROLE_KEY = "x-user-role"
ADMIN_ROLE = "admin"
_TENANT_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")  # reference/architecture.yaml tenancy.tenant_id_pattern
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str  # "" for an admin acting without an end-user identity
    is_admin: bool
    trace_id: str = ""

    @property
    def actor(self) -> str:
        kind = "admin" if self.is_admin else "user"
        return f"{kind}:{self.user_id or 'unknown'}"

    def effective_user(self, requested: str) -> str:
        """The user whose orders the call concerns: metadata wins; the request field must agree."""
        if requested and not _USER_RE.fullmatch(requested):
            raise InvalidArgument("user_id is malformed")
        if self.user_id and requested and requested != self.user_id:
            if self.is_admin:
                return requested  # staff acting on a customer's orders inside their own tenant
            raise PermissionDenied("user_id does not match the authenticated user")
        user = requested or self.user_id
        if not user and not self.is_admin:
            raise Unauthenticated("no user identity: x-user-id metadata or user_id is required")
        return user


def caller_from_metadata(metadata: Iterable[tuple[str, str | bytes]], trace_id: str = "") -> Caller:
    md: dict[str, str] = {}
    for key, value in metadata:
        md[key.lower()] = value.decode() if isinstance(value, bytes) else value
    tenant = md.get(TENANT_KEY, "")
    if not tenant:
        raise Unauthenticated(f"missing tenant: gRPC metadata {TENANT_KEY} is required")
    if not _TENANT_RE.fullmatch(tenant):
        raise InvalidArgument(f"{TENANT_KEY} is malformed")
    user = md.get(USER_KEY, "")
    if user and not _USER_RE.fullmatch(user):
        raise InvalidArgument(f"{USER_KEY} is malformed")
    role = md.get(ROLE_KEY, "customer").strip().lower()
    return Caller(tenant_id=tenant, user_id=user, is_admin=role == ADMIN_ROLE, trace_id=trace_id)
