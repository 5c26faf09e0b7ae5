"""Catalogue reads (cached) and the storefront admin's product changes."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.gateway import models
from services.gateway.backends import Backend
from services.gateway.cache import CacheResult, key_hash
from services.gateway.deps import AdminPrincipal, Gw, Tenant, rate_limited
from services.gateway.problems import ApiProblem
from services.gateway.runtime import Gateway
from services.gateway.store import RedisDown
from services.protos.gen.shop.catalog.v1 import catalog_pb2
from services.protos.gen.shop.common.v1 import common_pb2

router = APIRouter(prefix="/v1", tags=["products"], dependencies=[Depends(rate_limited)])
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Cursor = Annotated[str | None, Query(max_length=1024, pattern=r"^[A-Za-z0-9_.=\-]+$", description="from next_cursor")]
ProductId = Annotated[uuid.UUID, Path(description="product id (UUID)")]


def _json(result: CacheResult, status: int = 200) -> Response:
    return Response(result.body, status_code=status, media_type="application/json", headers=cache_headers(result))


def cache_headers(result: CacheResult) -> dict[str, str]:
    headers = {"X-Cache": result.outcome}
    if result.outcome == "STALE":
        # RFC 9111 Warning is obsolete; a plain header tells clients (and the frontend) the data may be old.
        headers["X-Stale"] = "catalog unavailable; showing the last known data"
    return headers


async def cached_list(gw: Gateway, tenant: str, limit: int, cursor: str | None, category: str | None) -> CacheResult:
    async def fetch() -> bytes:
        # Built on a miss only: a hit needs no protobuf message.
        request = catalog_pb2.ListProductsRequest(page_size=limit, page_token=cursor or "", category=category or "")
        resp = await gw.catalog.read("ListProducts", request, Backend.metadata(tenant))
        return json.dumps(models.page_json(resp)).encode()

    return await gw.cache.get(tenant, "list", key_hash(limit, cursor, category), fetch)


async def cached_product(gw: Gateway, tenant: str, product_id: str) -> CacheResult:
    async def fetch() -> bytes:
        p = await gw.catalog.read(
            "GetProduct", catalog_pb2.GetProductRequest(product_id=product_id), Backend.metadata(tenant)
        )
        return json.dumps(models.product_json(p)).encode()

    return await gw.cache.get(tenant, "product", key_hash(product_id), fetch)


@router.get("/products", response_model=models.ProductPage, summary="List products (cursor pagination)")
async def list_products(
    gw: Gw,
    tenant: Tenant,
    limit: Limit = 20,
    cursor: Cursor = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    # Plain requests of this route are answered by fastpath.py before FastAPI; this handler serves the rest
    # (validation errors included) and documents the endpoint.
    return _json(await cached_list(gw, tenant, limit, cursor, category))


@router.get("/products/search", response_model=models.ProductPage, summary="Full-text search")
async def search_products(
    gw: Gw,
    tenant: Tenant,
    q: Annotated[str, Query(min_length=1, max_length=200, description='words, "phrases", -exclusions, or')],
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    request = catalog_pb2.SearchProductsRequest(query=q, page_size=limit, page_token=cursor or "")

    async def fetch() -> bytes:
        resp = await gw.catalog.read("SearchProducts", request, Backend.metadata(tenant))
        return json.dumps(models.page_json(resp)).encode()

    return _json(await gw.cache.get(tenant, "search", key_hash(q.strip().lower(), limit, cursor), fetch))


@router.get(
    "/products/{product_id}",
    response_model=models.Product,
    summary="Product detail",
    responses={404: {"description": "no such product in this storefront"}},
)
async def get_product(gw: Gw, tenant: Tenant, product_id: ProductId) -> Response:
    return _json(await cached_product(gw, tenant, str(product_id)))


# -- admin (role=admin in the storefront's token) -------------------------------------------------------------


def _admin_md(gw: Gateway, tenant: str) -> list[tuple[str, str]]:
    token = gw.settings.catalog_admin_token()
    if token is None or not token.reveal():
        raise ApiProblem(
            503,
            "unavailable",
            "Admin changes disabled",
            "product changes are disabled on this gateway (no catalog-admin-token secret)",
        )
    return Backend.metadata(tenant, [("x-admin-token", token.reveal())])


async def _after_change(gw: Gateway, tenant: str, product: Any) -> dict[str, Any]:
    # Invalidate now as well as on catalog's event: the admin sees the change on the next read.
    # Redis down: nothing cached can be read either, and the dirty-tenant flush of the watcher covers the rest.
    with contextlib.suppress(RedisDown):
        await gw.cache.invalidate_tenant(tenant)
    return models.product_json(product)


@router.post("/admin/products", response_model=models.Product, status_code=201, tags=["admin"])
async def create_product(gw: Gw, tenant: Tenant, _: AdminPrincipal, body: models.ProductCreate) -> dict[str, Any]:
    request = catalog_pb2.CreateProductRequest(
        sku=body.sku,
        name=body.name,
        description=body.description,
        price=common_pb2.Money(units_minor=body.price.amount_minor, currency=body.price.currency),
        category=body.category,
        initial_stock=body.initial_stock,
    )
    return await _after_change(gw, tenant, await gw.catalog.write("CreateProduct", request, _admin_md(gw, tenant)))


@router.patch("/admin/products/{product_id}", response_model=models.Product, tags=["admin"])
async def update_product(
    gw: Gw, tenant: Tenant, _: AdminPrincipal, product_id: ProductId, body: models.ProductPatch
) -> dict[str, Any]:
    request = catalog_pb2.UpdateProductRequest(product_id=str(product_id), expected_version=body.expected_version)
    if body.name is not None:
        request.name = body.name
    if body.description is not None:
        request.description = body.description
    if body.category is not None:
        request.category = body.category
    if body.price is not None:
        request.price.CopyFrom(common_pb2.Money(units_minor=body.price.amount_minor, currency=body.price.currency))
    return await _after_change(gw, tenant, await gw.catalog.write("UpdateProduct", request, _admin_md(gw, tenant)))


@router.post("/admin/products/{product_id}/stock", response_model=models.Product, tags=["admin"])
async def adjust_stock(
    gw: Gw, tenant: Tenant, _: AdminPrincipal, product_id: ProductId, body: models.StockDelta
) -> dict[str, Any]:
    if body.delta == 0:
        raise ApiProblem(422, "validation", "Invalid request", "body.delta: must not be 0", field="body.delta")
    request = catalog_pb2.AdjustStockRequest(product_id=str(product_id), delta=body.delta)
    return await _after_change(gw, tenant, await gw.catalog.write("AdjustStock", request, _admin_md(gw, tenant)))
