"""Register, sign in, refresh and sign out through the users service; /v1/me from the verified token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from services.gateway import models
from services.gateway.backends import Backend
from services.gateway.deps import Gw, RequiredPrincipal, Tenant, client_id, rate_limited
from services.gateway.routes.cart import merge_guest_cart
from services.protos.gen.shop.users.v1 import users_pb2

router = APIRouter(prefix="/v1/auth", tags=["auth"], dependencies=[Depends(rate_limited)])
me_router = APIRouter(prefix="/v1", tags=["auth"], dependencies=[Depends(rate_limited)])
SessionId = Annotated[str | None, Header(alias="X-Session-Id", pattern=models.SESSION_ID_PATTERN)]


@router.post("/register", response_model=models.AuthOut, status_code=201)
async def register(gw: Gw, tenant: Tenant, body: models.RegisterIn, session: SessionId = None) -> dict[str, Any]:
    request = users_pb2.RegisterRequest(email=body.email, password=body.password, display_name=body.display_name)
    # Not retried: a replayed Register would answer ALREADY_EXISTS for the account it just created.
    resp = await gw.users.write("Register", request, Backend.metadata(tenant))
    await merge_guest_cart(gw, tenant, resp.user.id, session)
    return models.auth_json(resp)


@router.post("/sign-in", response_model=models.AuthOut)
async def sign_in(
    http: Request, gw: Gw, tenant: Tenant, body: models.SignInIn, session: SessionId = None
) -> dict[str, Any]:
    # client_id lets users throttle repeated failures per end client, not per gateway replica.
    request = users_pb2.SignInRequest(email=body.email, password=body.password, client_id=client_id(http))
    resp = await gw.users.write("SignIn", request, Backend.metadata(tenant))
    await merge_guest_cart(gw, tenant, resp.user.id, session)
    return models.auth_json(resp)


@router.post("/refresh", response_model=models.AuthOut)
async def refresh(gw: Gw, tenant: Tenant, body: models.RefreshIn) -> dict[str, Any]:
    # Not retried: the presented refresh token is consumed; a replay would look like token theft.
    resp = await gw.users.write(
        "Refresh", users_pb2.RefreshRequest(refresh_token=body.refresh_token), Backend.metadata(tenant)
    )
    return models.auth_json(resp)


@router.post("/sign-out", status_code=204)
async def sign_out(gw: Gw, tenant: Tenant, body: models.RefreshIn) -> Response:
    await gw.users.write(
        "RevokeRefreshToken",
        users_pb2.RevokeRefreshTokenRequest(refresh_token=body.refresh_token),
        Backend.metadata(tenant),
    )
    return Response(status_code=204)


@me_router.get("/me", response_model=models.Me)
async def me(principal: RequiredPrincipal) -> dict[str, str]:
    return {"user_id": principal.user_id, "tenant": principal.tenant, "role": principal.role}
