"""The REST contract (OpenAPI 3.1 schemas) and the mapping from the backends' protobuf messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.protos.gen.shop.catalog.v1 import catalog_pb2
from services.protos.gen.shop.orders.v1 import orders_pb2
from services.protos.gen.shop.users.v1 import users_pb2

CURRENCY_PATTERN = r"^[A-Z]{3}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{8,128}$"
SESSION_ID_PATTERN = r"^[A-Za-z0-9_\-]{16,128}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Money(Strict):
    amount_minor: int = Field(ge=0, le=10**12, description="integer count of the currency's minor unit")
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO 4217")


class Product(BaseModel):
    id: str
    sku: str
    name: str
    description: str
    price: Money
    category: str
    stock_available: int
    version: int


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last page")


class CartItemIn(Strict):
    product_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    quantity: int = Field(1, ge=1, le=99)


class CartQuantity(Strict):
    quantity: int = Field(ge=1, le=99)


class CartLine(BaseModel):
    product_id: str
    quantity: int
    product: Product | None = Field(None, description="null when the catalogue cannot be reached right now")
    line_total: Money | None = None


class Cart(BaseModel):
    items: list[CartLine]
    total: Money | None = None
    item_count: int


class Address(Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field("", max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2")


class CheckoutItem(Strict):
    product_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    quantity: int = Field(ge=1, le=99)


class CheckoutIn(Strict):
    shipping_address: Address
    items: list[CheckoutItem] | None = Field(
        None,
        min_length=1,
        max_length=50,
        description=(
            "the lines to order instead of the cart (which is then left untouched); prices always come from the "
            "catalogue. Works while the cart store (Redis) is down. A product listed twice is ordered once with "
            "the quantities added (at most 99)."
        ),
    )


class OrderItem(BaseModel):
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


class Order(BaseModel):
    id: str
    status: str
    items: list[OrderItem]
    total: Money
    shipping_address: dict[str, str]
    version: int
    created_at: str
    updated_at: str


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None = None


class RegisterIn(Strict):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    password: str = Field(min_length=10, max_length=256)
    display_name: str = Field("", max_length=100)


class SignInIn(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class User(BaseModel):
    id: str
    email: str
    display_name: str
    role: str
    tenant: str


class AuthOut(BaseModel):
    user: User
    access_token: str
    access_expires_at: str
    refresh_token: str
    refresh_expires_at: str
    token_type: str = "Bearer"  # noqa: S105 - the token type name, not a secret


class Me(BaseModel):
    user_id: str
    tenant: str
    role: str


class ProductPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    category: str | None = Field(None, max_length=100)
    price: Money | None = None
    # int64 in catalog's proto: an unbounded int made protobuf raise ValueError (500); found by schemathesis.
    expected_version: int = Field(0, ge=0, le=2**63 - 1)


class ProductCreate(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    price: Money
    category: str = Field("", max_length=100)
    initial_stock: int = Field(0, ge=0, le=1_000_000)


class StockDelta(Strict):
    delta: int = Field(ge=-1_000_000, le=1_000_000)


def _ts(value: Any) -> str:
    return str(value.ToDatetime().isoformat() + "Z") if value.seconds or value.nanos else ""


def money(m: Any) -> dict[str, Any]:
    return {"amount_minor": int(m.units_minor), "currency": str(m.currency)}


def product_json(p: catalog_pb2.Product) -> dict[str, Any]:
    return {
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "description": p.description,
        "price": money(p.price),
        "category": p.category,
        "stock_available": int(p.stock_available),
        "version": int(p.version),
    }


def page_json(resp: catalog_pb2.ListProductsResponse) -> dict[str, Any]:
    return {"items": [product_json(p) for p in resp.products], "next_cursor": resp.next_page_token or None}


def order_json(o: orders_pb2.Order) -> dict[str, Any]:
    a = o.shipping_address
    return {
        "id": o.id,
        "status": orders_pb2.OrderStatus.Name(o.status),
        "items": [
            {
                "product_id": i.product_id,
                "sku": i.sku,
                "name": i.name,
                "quantity": int(i.quantity),
                "unit_price": money(i.unit_price),
                "line_total": money(i.line_total),
            }
            for i in o.items
        ],
        "total": money(o.total),
        "shipping_address": {
            "name": a.name,
            "line1": a.line1,
            "line2": a.line2,
            "city": a.city,
            "region": a.region,
            "postal_code": a.postal_code,
            "country": a.country,
        },
        "version": int(o.version),
        "created_at": _ts(o.created_at),
        "updated_at": _ts(o.updated_at),
    }


def auth_json(resp: users_pb2.AuthResponse) -> dict[str, Any]:
    u, t = resp.user, resp.tokens
    return {
        "user": {"id": u.id, "email": u.email, "display_name": u.display_name, "role": u.role, "tenant": u.tenant_id},
        "access_token": t.access_token,
        "access_expires_at": _ts(t.access_expires_at),
        "refresh_token": t.refresh_token,
        "refresh_expires_at": _ts(t.refresh_expires_at),
        "token_type": t.token_type or "Bearer",
    }
