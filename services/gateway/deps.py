"""Request dependencies: tenant at the edge, client identity, rate limit, optional/required principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common import tenancy
from services.gateway.problems import ApiProblem, invalid, unauthorized, unavailable
from services.gateway.ratelimit import Decision
from services.gateway.runtime import Gateway
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import JwksUnavailable, Principal, TokenRejected

_bearer = HTTPBearer(auto_error=False, description="access token from /v1/auth/sign-in")


def _gw(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def gateway(request: Request) -> Gateway:
    # async: FastAPI runs sync dependencies in a thread pool, which costs more than this whole function.
    return _gw(request)


async def resolve_tenant(
    request: Request,
    x_tenant: Annotated[
        str | None,
        Header(alias="X-Tenant", max_length=32, description="storefront id (local runs; else the host decides)"),
    ] = None,
) -> str:
    """The storefront: a configured host name wins; else the X-Tenant header (when allowed); else the default."""
    gw = _gw(request)
    tenant = tenant_for(gw.settings, request.headers.get("host"), x_tenant)
    request.state.tenant = tenant
    gw.seen_tenant(tenant)
    return tenant


def tenant_for(settings: GatewaySettings, host_header: str | None, x_tenant: str | None) -> str:
    """The tenant rules, shared by the dependency and the ASGI fast path of the cached reads (fastpath.py)."""
    host = (host_header or "").rsplit(":", 1)[0].strip().lower()
    tenant = settings.tenant_hosts.get(host)
    if tenant is None and x_tenant is not None and settings.allow_tenant_header:
        if not tenancy.is_valid_tenant_id(x_tenant):
            raise invalid("header.X-Tenant", f"must match {tenancy.TENANT_ID_PATTERN}")
        tenant = x_tenant
    tenant = tenant or settings.default_tenant
    if tenant is None:
        raise ApiProblem(
            400,
            "unknown-storefront",
            "Unknown storefront",
            "this host name is not a storefront; send X-Tenant in local runs",
        )
    return tenant


Tenant = Annotated[str, Depends(resolve_tenant)]


def client_id(request: Request) -> str:
    """The end client's address: the peer, or the entry that the N-th trusted proxy appended to X-Forwarded-For."""
    peer = request.client.host if request.client else "unknown"
    return client_from(_gw(request).settings.trusted_proxy_hops, peer, request.headers.get("x-forwarded-for", ""))


def client_from(hops: int, peer: str, forwarded_for: str) -> str:
    if hops > 0:
        chain = [p.strip() for p in forwarded_for.split(",") if p.strip()]
        if len(chain) >= hops:
            return chain[-hops][:64]
    return peer[:64]


def too_many_requests(decision: Decision) -> ApiProblem:
    return ApiProblem(
        429,
        "too-many-requests",
        "Too many requests",
        f"rate limit of this {decision.scope} exceeded; retry after {int(decision.retry_after_s)} s",
        headers={"Retry-After": str(int(decision.retry_after_s)), "RateLimit-Limit": str(decision.limit)},
        extra={"scope": decision.scope},
    )


async def rate_limited(request: Request, tenant: Tenant) -> None:
    decision = await _gw(request).limiter.check(tenant, client_id(request))
    if not decision.allowed:
        raise too_many_requests(decision)


async def optional_principal(
    request: Request,
    tenant: Tenant,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        if request.headers.get("authorization"):
            raise unauthorized("Authorization must be 'Bearer <access token>'")
        return None
    try:
        return await _gw(request).verifier.verify(credentials.credentials, tenant)
    except TokenRejected as exc:
        raise unauthorized(str(exc)) from None
    except JwksUnavailable:
        raise unavailable("users", "sign-in cannot be checked right now; please retry shortly") from None


async def require_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise unauthorized()
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    if principal.role != "admin":
        raise ApiProblem(403, "forbidden", "Forbidden", "this action needs the storefront's admin role")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
RequiredPrincipal = Annotated[Principal, Depends(require_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
Gw = Annotated[Gateway, Depends(gateway)]
