"""Order history and detail of the signed-in user (orders checks ownership with x-user-id / x-user-role)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from services.gateway import models
from services.gateway.backends import Backend
from services.gateway.deps import Gw, RequiredPrincipal, Tenant, rate_limited
from services.gateway.tokens import Principal
from services.protos.gen.shop.orders.v1 import orders_pb2

router = APIRouter(prefix="/v1", tags=["orders"], dependencies=[Depends(rate_limited)])


def _md(tenant: str, principal: Principal) -> list[tuple[str, str]]:
    return Backend.metadata(tenant, [("x-user-id", principal.user_id), ("x-user-role", principal.role)])


@router.get("/orders", response_model=models.OrderPage, summary="The signed-in user's orders, newest first")
async def list_orders(
    gw: Gw,
    tenant: Tenant,
    principal: RequiredPrincipal,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, pattern=r"^[A-Za-z0-9_.=\-]+$")] = None,
) -> dict[str, Any]:
    request = orders_pb2.ListOrdersRequest(user_id=principal.user_id, page_size=limit, page_token=cursor or "")
    resp = await gw.orders.read("ListOrders", request, _md(tenant, principal))
    return {"items": [models.order_json(o) for o in resp.orders], "next_cursor": resp.next_page_token or None}


@router.get("/orders/{order_id}", response_model=models.Order, responses={404: {"description": "no such order"}})
async def get_order(
    gw: Gw, tenant: Tenant, principal: RequiredPrincipal, order_id: Annotated[uuid.UUID, Path()]
) -> dict[str, Any]:
    # user_id set even for admins: this is the customer's own view; another user's order is 404.
    request = orders_pb2.GetOrderRequest(order_id=str(order_id), user_id=principal.user_id)
    return models.order_json(await gw.orders.read("GetOrder", request, _md(tenant, principal)))
