"""Checkout answers by orders' reason (google.rpc.ErrorInfo), not by its message text.

Orders here is a scripted gRPC server that refuses PlaceOrder with a given code, a REWORDED message and a reason
(or none); everything else is the real stack (users for tokens, catalog, Redis). The answers must be the ones
the storefront and the real-orders tests know, whatever the message says; without a reason, the generic answer
for the gRPC code (no guessing from the text, even when it reads like the old messages).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common.errors import ERROR_DOMAIN, Reason, status_with_reason
from services.gateway.breaker import State
from services.protos.gen.shop.orders.v1 import orders_pb2, orders_pb2_grpc
from tests.services.gateway.stack import ADDRESS, GatewayServer, Stack, register

NO_LONGER_SOLD = "a product in the cart is no longer sold; remove it first"
KEY_REUSED = "this Idempotency-Key was already used for a different cart or address"


@dataclass
class Refusal:
    code: grpc.StatusCode
    message: str
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    domain: str = ERROR_DOMAIN


class ScriptedOrders(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self) -> None:
        self.refusal = Refusal(grpc.StatusCode.INTERNAL, "not scripted")
        self.calls = 0

    def PlaceOrder(self, request: orders_pb2.PlaceOrderRequest, context: grpc.ServicerContext) -> orders_pb2.Order:
        self.calls += 1
        r = self.refusal
        if r.reason is None:
            context.abort(r.code, r.message)
        if r.domain == ERROR_DOMAIN:
            context.abort_with_status(status_with_reason(r.code, r.message, r.reason, r.metadata))
        # The same ErrorInfo from someone else's domain.
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=r.reason, domain=r.domain, metadata=r.metadata))
        rich = status_pb2.Status(code=r.code.value[0], message=r.message, details=[detail])
        context.abort_with_status(rpc_status.to_status(rich))
        raise AssertionError("unreachable")


@dataclass
class Shop:
    orders: ScriptedOrders
    gateway: GatewayServer
    token: str


@pytest.fixture
def shop(stack: Stack) -> Iterator[Shop]:
    orders = ScriptedOrders()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    orders_pb2_grpc.add_OrdersServiceServicer_to_server(orders, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    gateway = GatewayServer(stack.gateway_settings(orders_addr=f"127.0.0.1:{port}", breaker_reset_s=30.0))
    try:
        with gateway.client("shop-a") as c:
            yield Shop(orders, gateway, register(c)["access_token"])
    finally:
        gateway.stop()
        server.stop(0).wait()


def checkout(shop: Shop, refusal: Refusal) -> dict[str, Any]:
    shop.orders.refusal = refusal
    with shop.gateway.client("shop-a") as c:
        r = c.post(
            "/v1/checkout",
            json={"shipping_address": ADDRESS, "items": [{"product_id": str(uuid.uuid4()), "quantity": 1}]},
            headers={"Authorization": f"Bearer {shop.token}", "Idempotency-Key": uuid.uuid4().hex},
        )
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == r.status_code
    return {"status": r.status_code, "retry_after": r.headers.get("retry-after"), **body}


def answer(body: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    return tuple(body.get(k) for k in keys)


CODES = grpc.StatusCode
FOLLOWS_THE_REASON = [
    pytest.param(
        Refusal(CODES.NOT_FOUND, "Produkt 42 gibt es nicht mehr", Reason.UNKNOWN_PRODUCT, {"product_ids": "42"}),
        (409, "https://eks-shop.dev/problems/conflict", "Conflict", NO_LONGER_SOLD, None),
        id="unknown-product",
    ),
    pytest.param(
        Refusal(CODES.INVALID_ARGUMENT, "deux devises dans une commande", Reason.MIXED_CURRENCIES),
        (
            422,
            "https://eks-shop.dev/problems/validation",
            "Invalid request",
            "cart: holds products priced in different currencies",
            "cart",
        ),
        id="mixed-currencies",
    ),
    pytest.param(
        Refusal(CODES.FAILED_PRECONDITION, "only 2 mugs left", Reason.OUT_OF_STOCK),
        (409, "https://eks-shop.dev/problems/out-of-stock", "Not enough stock", "only 2 mugs left", None),
        id="out-of-stock",
    ),
    pytest.param(
        Refusal(CODES.ALREADY_EXISTS, "that key is taken", Reason.IDEMPOTENCY_KEY_REUSED),
        (409, "https://eks-shop.dev/problems/idempotency-conflict", "Conflict", KEY_REUSED, None),
        id="idempotency-key-reused",
    ),
]
# The old messages, word for word, but no reason: the generic answer of the code, the message passed on.
GENERIC_WITHOUT_A_REASON = [
    pytest.param(
        Refusal(CODES.NOT_FOUND, "unknown product(s): 42"),
        (404, "https://eks-shop.dev/problems/not-found", "Not found", "unknown product(s): 42", None),
        id="unknown-product",
    ),
    pytest.param(
        Refusal(CODES.INVALID_ARGUMENT, "all products of one order must be priced in the same currency"),
        (
            422,
            "https://eks-shop.dev/problems/validation",
            "Invalid request",
            "all products of one order must be priced in the same currency",
            None,
        ),
        id="mixed-currencies",
    ),
    pytest.param(
        Refusal(CODES.FAILED_PRECONDITION, "not enough stock: items[0]"),
        (409, "https://eks-shop.dev/problems/conflict", "Conflict", "not enough stock: items[0]", None),
        id="out-of-stock",
    ),
    pytest.param(
        Refusal(CODES.ALREADY_EXISTS, "idempotency_key was already used for a different order; use a new key"),
        (
            409,
            "https://eks-shop.dev/problems/conflict",
            "Conflict",
            "idempotency_key was already used for a different order; use a new key",
            None,
        ),
        id="idempotency-key-reused",
    ),
    pytest.param(
        Refusal(CODES.ALREADY_EXISTS, "key reused", Reason.IDEMPOTENCY_KEY_REUSED, domain="example.com"),
        (409, "https://eks-shop.dev/problems/conflict", "Conflict", "key reused", None),
        id="reason-of-another-domain",
    ),
]


@pytest.mark.parametrize(("refusal", "expected"), FOLLOWS_THE_REASON)
def test_checkout_answer_follows_the_reason_whatever_the_message(shop: Shop, refusal: Refusal, expected: Any) -> None:
    body = checkout(shop, refusal)
    assert answer(body, "status", "type", "title", "detail", "field") == expected
    assert "dependency" not in body
    assert shop.orders.calls == 1


@pytest.mark.parametrize(("refusal", "expected"), GENERIC_WITHOUT_A_REASON)
def test_checkout_refusal_without_a_reason_gets_the_answer_of_its_code(
    shop: Shop, refusal: Refusal, expected: Any
) -> None:
    assert answer(checkout(shop, refusal), "status", "type", "title", "detail", "field") == expected


def test_catalog_down_behind_orders_names_catalog_and_spares_orders_breaker(shop: Shop) -> None:
    """Catalog is healthy here: only the reason can say it is the one down (before, the text and a probe did)."""
    breaker = shop.gateway.app.state.gateway.orders.breaker
    down = Refusal(CODES.UNAVAILABLE, "the warehouse is not answering", Reason.DEPENDENCY_UNAVAILABLE)
    down.metadata = {"dependency": "catalog"}
    for _ in range(shop.gateway.settings.breaker_failures + 1):
        body = checkout(shop, down)
        assert answer(body, "status", "type", "title", "dependency", "retry_after") == (
            503,
            "https://eks-shop.dev/problems/unavailable",
            "Checkout temporarily unavailable",
            "catalog",
            "5",
        )
        assert body["detail"].startswith("checkout is temporarily unavailable because the catalog service")
    assert breaker.state == State.CLOSED
    assert shop.orders.calls == shop.gateway.settings.breaker_failures + 1


def test_unavailable_without_a_reason_is_orders_failing(shop: Shop) -> None:
    """The old message of catalog's outage, but no reason: orders is the one failing; its breaker opens."""
    breaker = shop.gateway.app.state.gateway.orders.breaker
    old_text = Refusal(CODES.UNAVAILABLE, "catalog unavailable for ReserveStock: UNAVAILABLE")
    for _ in range(shop.gateway.settings.breaker_failures):
        body = checkout(shop, old_text)
        assert answer(body, "status", "title", "dependency") == (503, "Checkout temporarily unavailable", "orders")
        assert "the orders service" in body["detail"]
    assert breaker.state == State.OPEN
    assert checkout(shop, old_text)["dependency"] == "orders"  # answered by the open breaker
    assert shop.orders.calls == shop.gateway.settings.breaker_failures
