"""The cart in Redis (``{t:<tenant>:u:<user>}:cart`` or ``{t:<tenant>:s:<session>}:cart``, a hash product id ->
quantity; see keys.py) and checkout.

The owner is the signed-in user (``u:<sub>``) or, for guests, the ``X-Session-Id`` the client generated
(``s:<id>``); signing in merges the guest cart into the user's. Checkout requires a user and an
``Idempotency-Key``. Idempotency is orders' rule (same user + key + request -> the same order, flagged in its
trailing metadata so the answer is 200 "replayed" rather than 201; the same key with another request ->
ALREADY_EXISTS, answered 409). The gateway adds one thing: a cart checkout empties the cart, so a resubmit of the
same key would find nothing to send; the key's order is therefore recorded (with the emptying, atomically: the
record and the cart share the user's hash tag, so the script is one slot in cluster mode) and read back only when
the cart is empty.

Every multi-command change is one small Lua script (EVAL), not a MULTI/EXEC pipeline: atomic alike on one Redis
and on a cluster, one round trip, and it keeps off redis-py's asyncio cluster transactions, which (redis-py 8.1)
run every queued command in a new thread with its own event loop, blocking the gateway's loop for milliseconds.

Checkout may also name its lines in the body (``items``) instead of using the cart: that path needs no Redis, so
buying still works while the cart store is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from services.common.errors import Reason
from services.gateway import keys, models
from services.gateway.backends import Backend, DependencyFailure, collect_trailers
from services.gateway.deps import Gw, OptionalPrincipal, RequiredPrincipal, Tenant, rate_limited
from services.gateway.problems import ApiProblem, invalid, unavailable
from services.gateway.routes.products import cached_product
from services.gateway.runtime import Gateway
from services.gateway.store import RedisDown
from services.gateway.tokens import Principal
from services.protos.gen.shop.common.v1 import common_pb2
from services.protos.gen.shop.orders.v1 import orders_pb2

# KEYS[1] the cart; ARGV: op (incr, set, del), product id, quantity, TTL (s). The change and the TTL refresh at once.
CART_CHANGE_LUA = """
if ARGV[1] == 'incr' then
  redis.call('HINCRBY', KEYS[1], ARGV[2], ARGV[3])
elseif ARGV[1] == 'set' then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[2])
end
return redis.call('EXPIRE', KEYS[1], ARGV[4])
"""
# KEYS[1] a guest cart: its lines (flat field/value list), and it is gone. Of two concurrent takers one gets them.
CART_TAKE_LUA = """
local lines = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return lines
"""
# KEYS[1] a cart; ARGV: TTL (s), then product id and quantity pairs to add.
CART_ADD_LUA = """
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
return redis.call('EXPIRE', KEYS[1], ARGV[1])
"""
# KEYS[1] the checkout record, KEYS[2] the user's cart (same hash tag); ARGV: record, TTL (s). The cart became
# the order: the record is written and the cart deleted together, so a resubmit finds one or the other.
CHECKOUT_FINISH_LUA = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return redis.call('DEL', KEYS[2])
"""
REPLAYED_METADATA = "x-idempotent-replayed"  # services/orders/grpc_api.py REPLAYED_METADATA
router = APIRouter(prefix="/v1", tags=["cart"], dependencies=[Depends(rate_limited)])
MAX_LINES = 50
IDEMPOTENCY_TTL_S = 24 * 3600
SessionId = Annotated[
    str | None,
    Header(alias="X-Session-Id", pattern=models.SESSION_ID_PATTERN, description="guest cart id chosen by the client"),
]
ProductId = Annotated[uuid.UUID, Path()]


def cart_key(tenant: str, principal: Principal | None, session: str | None) -> str:
    if principal is not None:
        return keys.user_cart(tenant, principal.user_id)
    if session:
        return keys.guest_cart(tenant, session)
    raise invalid("header.X-Session-Id", "is required without an access token")


def _cart_down() -> ApiProblem:
    return unavailable("redis", "the cart is temporarily unavailable; please retry shortly")


async def read_cart(gw: Gateway, key: str) -> dict[str, int]:
    try:
        raw = await gw.store.run(lambda r: r.hgetall(key))
    except RedisDown:
        raise _cart_down() from None
    return {k.decode() if isinstance(k, bytes) else str(k): int(v) for k, v in raw.items()}


async def cart_view(gw: Gateway, tenant: str, items: dict[str, int]) -> dict[str, Any]:
    async def line(pid: str, qty: int) -> dict[str, Any]:
        try:
            product = json.loads((await cached_product(gw, tenant, pid)).body)
        except (DependencyFailure, ApiProblem):
            product = None  # catalog down with no stale copy, or no longer sold: the line is still shown
        total = None
        if product is not None:
            total = {"amount_minor": product["price"]["amount_minor"] * qty, "currency": product["price"]["currency"]}
        return {"product_id": pid, "quantity": qty, "product": product, "line_total": total}

    lines = await asyncio.gather(*(line(pid, qty) for pid, qty in sorted(items.items())))
    totals = [ln["line_total"] for ln in lines]
    total = None
    if lines and all(totals) and len({t["currency"] for t in totals}) == 1:
        total = {"amount_minor": sum(t["amount_minor"] for t in totals), "currency": totals[0]["currency"]}
    return {"items": lines, "total": total, "item_count": sum(items.values())}


@router.get("/cart", response_model=models.Cart)
async def get_cart(gw: Gw, tenant: Tenant, principal: OptionalPrincipal, session: SessionId = None) -> dict[str, Any]:
    return await cart_view(gw, tenant, await read_cart(gw, cart_key(tenant, principal, session)))


async def _touch(gw: Gateway, key: str, op: str, pid: str, quantity: int = 0) -> None:
    """One change of a cart line (``op``: incr, set, del) and the cart's TTL refreshed, atomically."""
    ttl = int(gw.settings.cart_ttl_s)
    try:
        await gw.store.run(lambda r: r.eval(CART_CHANGE_LUA, 1, key, op, pid, quantity, ttl))
    except RedisDown:
        raise _cart_down() from None


@router.post("/cart/items", response_model=models.Cart, status_code=200)
async def add_item(
    gw: Gw, tenant: Tenant, principal: OptionalPrincipal, body: models.CartItemIn, session: SessionId = None
) -> dict[str, Any]:
    key = cart_key(tenant, principal, session)
    try:
        pid = str(uuid.UUID(body.product_id))
    except ValueError:
        raise invalid("body.product_id", "must be a UUID") from None
    await cached_product(gw, tenant, pid)  # 404 for a product this storefront does not sell
    items = await read_cart(gw, key)
    if pid not in items and len(items) >= MAX_LINES:
        raise invalid("body.product_id", f"a cart holds at most {MAX_LINES} different products")
    if items.get(pid, 0) + body.quantity > 99:
        raise invalid("body.quantity", "at most 99 units of one product per order")
    await _touch(gw, key, "incr", pid, body.quantity)
    items[pid] = items.get(pid, 0) + body.quantity
    return await cart_view(gw, tenant, items)


@router.put("/cart/items/{product_id}", response_model=models.Cart)
async def set_quantity(
    gw: Gw,
    tenant: Tenant,
    principal: OptionalPrincipal,
    product_id: ProductId,
    body: models.CartQuantity,
    session: SessionId = None,
) -> dict[str, Any]:
    key = cart_key(tenant, principal, session)
    items = await read_cart(gw, key)
    pid = str(product_id)
    if pid not in items:
        raise ApiProblem(404, "not-found", "Not found", "this product is not in the cart")
    await _touch(gw, key, "set", pid, body.quantity)
    items[pid] = body.quantity
    return await cart_view(gw, tenant, items)


@router.delete("/cart/items/{product_id}", response_model=models.Cart)
async def remove_item(
    gw: Gw, tenant: Tenant, principal: OptionalPrincipal, product_id: ProductId, session: SessionId = None
) -> dict[str, Any]:
    key = cart_key(tenant, principal, session)
    pid = str(product_id)
    await _touch(gw, key, "del", pid)
    items = await read_cart(gw, key)
    return await cart_view(gw, tenant, items)


@router.delete("/cart", status_code=204)
async def clear_cart(gw: Gw, tenant: Tenant, principal: OptionalPrincipal, session: SessionId = None) -> Response:
    key = cart_key(tenant, principal, session)
    try:
        await gw.store.run(lambda r: r.delete(key))
    except RedisDown:
        raise _cart_down() from None
    return Response(status_code=204)


async def merge_guest_cart(gw: Gateway, tenant: str, user_id: str, session: str | None) -> None:
    """After sign-in: the guest's lines are added to the user's cart (best effort).

    The two carts have different hash tags (a guest cart is not any user's), so in cluster mode they are in
    different slots and no script can span them. The guest cart is therefore taken first (read and deleted in one
    script: of two concurrent sign-ins only one gets the lines), then added to the user's cart by a second one. A
    Redis failure between the two loses the guest's lines, never doubles them.
    """
    if not session:
        return
    src, dst = keys.guest_cart(tenant, session), keys.user_cart(tenant, user_id)
    try:
        flat = await gw.store.run(lambda r: r.eval(CART_TAKE_LUA, 1, src))
        if not flat:
            return
        await gw.store.run(lambda r: r.eval(CART_ADD_LUA, 1, dst, int(gw.settings.cart_ttl_s), *flat))
    except RedisDown:
        return


# -- checkout --------------------------------------------------------------------------------------------------


CHECKOUT_DOWN = (
    "checkout is temporarily unavailable because the {dep} service cannot be reached; your cart is kept and "
    "retrying with the same Idempotency-Key is safe"
)


@router.post(
    "/checkout",
    response_model=models.Order,
    status_code=201,
    tags=["orders"],
    responses={
        200: {"description": "the order already placed with this Idempotency-Key"},
        409: {
            "description": "Idempotency-Key reused for another cart or items, not enough stock, or a product not sold"
        },
        503: {"description": "a dependency is down; nothing was charged twice, retry with the same key"},
    },
)
async def checkout(
    request: Request,
    gw: Gw,
    tenant: Tenant,
    principal: RequiredPrincipal,
    body: models.CheckoutIn,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            pattern=models.IDEMPOTENCY_KEY_PATTERN,
            description="8..128 characters [A-Za-z0-9_.:-], new for every intended order",
        ),
    ],
) -> JSONResponse:
    key = keys.user_cart(tenant, principal.user_id)
    from_body = body.items is not None
    items = _body_items(body.items) if body.items is not None else await read_cart(gw, key)
    idem_key = keys.checkout_record(tenant, principal.user_id, idempotency_key)  # in the slot of ``key``
    md = Backend.metadata(tenant, [("x-user-id", principal.user_id), ("x-user-role", principal.role)])
    if not items and not from_body:
        # An empty cart: nothing to buy, or this key already bought it (the cart became that order). Only then is
        # the gateway's record needed: for a cart with lines, or lines in the body, orders' own rule answers a
        # replay (same order, 200) or a conflict (409) exactly as the record would, so it is not read first.
        try:
            record_raw = await gw.store.run(lambda r: r.get(idem_key))
        except RedisDown:
            raise _cart_down() from None
        if record_raw is not None:
            record = json.loads(record_raw)
            order = await gw.orders.read(
                "GetOrder", orders_pb2.GetOrderRequest(order_id=record["order_id"], user_id=principal.user_id), md
            )
            return JSONResponse(models.order_json(order), status_code=200, headers={"Idempotent-Replayed": "true"})
    if not items:
        raise invalid("cart", "is empty")
    # Server-side prices: only ids and quantities go to orders, which prices them from catalog and refuses unknown
    # products and mixed currencies itself. So the gateway no longer asks catalog first (a BatchGetProducts per
    # checkout duplicating orders' own read); an empty currency tells orders to take the catalog prices' currency.
    a = body.shipping_address
    place = orders_pb2.PlaceOrderRequest(
        idempotency_key=idempotency_key,
        user_id=principal.user_id,
        items=[orders_pb2.OrderItemRequest(product_id=pid, quantity=qty) for pid, qty in sorted(items.items())],
        currency="",
        shipping_address=common_pb2.Address(
            name=a.name,
            line1=a.line1,
            line2=a.line2,
            city=a.city,
            region=a.region,
            postal_code=a.postal_code,
            country=a.country,
        ),
    )
    trailers = collect_trailers()
    try:
        order = await gw.orders.write("PlaceOrder", place, md)
    except DependencyFailure as exc:
        # orders answers UNAVAILABLE for its own outage and for catalog's: name the one that is really down. orders
        # names it (reason DEPENDENCY_UNAVAILABLE, dependency=catalog); without a reason (orders down, too slow, its
        # store down) it is orders, unless catalog does not answer its health check either.
        dep = gw.orders.downstream_outage(exc.reason)
        if dep is None:
            open_circuit = exc.extra.get("grpc_code") == "CIRCUIT_OPEN"
            dep = "orders" if open_circuit or await gw.catalog.healthy(0.3) else "catalog"
        raise ApiProblem(
            exc.status,
            exc.kind,
            "Checkout temporarily unavailable",
            CHECKOUT_DOWN.format(dep=dep),
            headers={"Retry-After": "5"},
            extra={"dependency": dep},
        ) from None
    except ApiProblem as exc:
        refusal = _CHECKOUT_REFUSALS.get(exc.reason.reason) if exc.reason is not None else None
        if refusal is None:
            raise  # no reason (or none of checkout's): the generic answer for orders' gRPC code
        raise refusal(exc) from None
    if (REPLAYED_METADATA, "true") in trailers:
        # The key's order already existed: the cart (possibly refilled since) is left as it is.
        return JSONResponse(models.order_json(order), status_code=200, headers={"Idempotent-Replayed": "true"})
    if not from_body:  # lines sent in the body leave the cart alone, and a replay of them is orders' to answer
        record = json.dumps({"order_id": order.id})

        # The cart became this order; the record answers a resubmit of the emptied cart. If Redis is down the order
        # still stands; orders' own idempotency returns it for a retry with the same key.
        with contextlib.suppress(RedisDown):
            await gw.store.run(lambda r: r.eval(CHECKOUT_FINISH_LUA, 2, idem_key, key, record, IDEMPOTENCY_TTL_S))
    return JSONResponse(models.order_json(order), status_code=201, headers={"Location": f"/v1/orders/{order.id}"})


# Orders' refusals of PlaceOrder, by their reason (services/common/errors.py Reason), never by their message: the
# answers clients already know. Orders makes the two cart checks the gateway used to make itself (a cart line no
# longer sold is a conflict with the cart, not a missing resource of this URL); ALREADY_EXISTS is the key used for
# another request (no gateway record to say so first); the stock message (which line, how many left) is passed on.
_CHECKOUT_REFUSALS: dict[str, Callable[[ApiProblem], ApiProblem]] = {
    Reason.UNKNOWN_PRODUCT: lambda _: ApiProblem(
        409, "conflict", "Conflict", "a product in the cart is no longer sold; remove it first"
    ),
    Reason.MIXED_CURRENCIES: lambda _: invalid("cart", "holds products priced in different currencies"),
    Reason.OUT_OF_STOCK: lambda exc: ApiProblem(409, "out-of-stock", "Not enough stock", exc.detail),
    Reason.IDEMPOTENCY_KEY_REUSED: lambda _: ApiProblem(
        409, "idempotency-conflict", "Conflict", "this Idempotency-Key was already used for a different cart or address"
    ),
}


def _body_items(lines: list[models.CheckoutItem]) -> dict[str, int]:
    """The body's lines in the cart's shape (canonical ids, one entry per product): orders sees both alike."""
    items: dict[str, int] = {}
    for i, line in enumerate(lines):
        try:
            pid = str(uuid.UUID(line.product_id))
        except ValueError:
            raise invalid(f"body.items.{i}.product_id", "must be a UUID") from None
        items[pid] = items.get(pid, 0) + line.quantity
        if items[pid] > 99:
            raise invalid(f"body.items.{i}.quantity", "at most 99 units of one product per order")
    return items
