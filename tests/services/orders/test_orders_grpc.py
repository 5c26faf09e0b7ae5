"""Orders over gRPC against a real nx-27017 store and an in-process *fake* catalog (unit level).

The acceptance tests with the real catalog on PostgreSQL live in test_acceptance_real_catalog.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import MongoClient

from services.common.errors import ErrorReason, Reason, reason_of
from services.orders.domain import errors as dom
from services.orders.grpc_api import reason_for
from services.protos.gen.shop.common.v1 import common_pb2
from services.protos.gen.shop.orders.v1 import orders_pb2 as pb
from services.runner.procs import free_port
from tests.services.orders.conftest import OrdersHandle, md
from tests.services.orders.fake_catalog import FakeCatalogState

T1, T2 = "acme", "globex"


HELD, COMMITTED, RELEASED, RETURNED = 1, 2, 3, 5  # catalog_pb2.Reservation.Status


def eventually(condition: Callable[[], bool], within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def key() -> str:
    return f"key-{uuid.uuid4()}"


def place(h: OrdersHandle, tenant: str, user: str, items: list[tuple[str, int]], k: str | None = None) -> pb.Order:
    req = pb.PlaceOrderRequest(
        idempotency_key=k or key(), items=[pb.OrderItemRequest(product_id=p, quantity=q) for p, q in items]
    )
    return h.stub.PlaceOrder(req, metadata=md(tenant, user), timeout=20)


def code_of(fn: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details()


def count_orders(mongo_url: str, h: OrdersHandle) -> int:
    with MongoClient(mongo_url) as c:
        return c[h.database]["orders"].count_documents({})


@pytest.fixture
def shop(fake_catalog: tuple[FakeCatalogState, str], orders_factory: Callable[..., OrdersHandle]):  # type: ignore[no-untyped-def]
    state, addr = fake_catalog
    return state, orders_factory(addr)


def test_place_prices_from_catalog_and_reads_back(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 1250, 10)
    p2 = state.add(T1, "tee", 2000, 10)
    order = place(h, T1, "u1", [(p1, 2), (p2, 1), (p1, 1)])
    assert order.status == pb.PENDING
    assert order.version == 1
    assert order.total.units_minor == 3 * 1250 + 2000
    assert order.total.currency == "USD"
    assert state.products[(T1, p1)].stock == 7
    # The stock commit follows the answer (batched, stock_committer.py): it happens, just not before the reply.
    assert eventually(lambda: state.reservations[(T1, order.reservation_id)][0] == COMMITTED)
    got = h.stub.GetOrder(pb.GetOrderRequest(order_id=order.id), metadata=md(T1, "u1"))
    assert got == order
    audit = h.stub.ListOrderAudit(pb.ListOrderAuditRequest(order_id=order.id), metadata=md(T1, "u1"))
    assert [(r.from_status, r.to_status, r.actor) for r in audit.records] == [(0, pb.PENDING, "user:u1")]


def test_idempotency_same_body_same_order_other_body_already_exists(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 1250, 10)
    k = key()
    a = place(h, T1, "u1", [(p1, 2)], k)
    b = place(h, T1, "u1", [(p1, 1), (p1, 1)], k)  # same body after merging duplicates
    assert a == b
    code, details = code_of(lambda: place(h, T1, "u1", [(p1, 3)], k))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "idempotency_key" in details
    assert state.products[(T1, p1)].stock == 8


def test_twenty_concurrent_same_key_create_one_order(shop, mongo_url) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    k = key()
    results: list[str] = []
    errors: list[object] = []

    def worker() -> None:
        try:
            results.append(place(h, T1, "u1", [(p1, 1)], k).id)
        except grpc.RpcError as exc:
            errors.append(exc.code())

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 20
    assert len(set(results)) == 1
    assert count_orders(mongo_url, h) == 1
    assert state.products[(T1, p1)].stock == 4


def test_bad_input_is_rejected_and_nothing_is_written(shop, mongo_url) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    unknown = str(uuid.uuid4())
    cases = [
        (lambda: place(h, T1, "u1", [(unknown, 1)]), grpc.StatusCode.NOT_FOUND, unknown),
        (lambda: place(h, T1, "u1", [(p1, 1), (unknown, 1)]), grpc.StatusCode.NOT_FOUND, "unknown product"),
        (lambda: place(h, T1, "u1", [(p1, -1)]), grpc.StatusCode.INVALID_ARGUMENT, "positive"),
        (lambda: place(h, T1, "u1", [(p1, 0)]), grpc.StatusCode.INVALID_ARGUMENT, "positive"),
        (lambda: place(h, T1, "u1", [("bad id!", 1)]), grpc.StatusCode.INVALID_ARGUMENT, "product_id"),
        (lambda: place(h, T1, "u1", []), grpc.StatusCode.INVALID_ARGUMENT, "at least one line"),
        (lambda: place(h, T1, "u1", [(p1, 1)], "short"), grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key"),
        (lambda: place(h, T1, "u1", [(p1, 6)]), grpc.StatusCode.FAILED_PRECONDITION, "stock"),
        (
            lambda: h.stub.GetOrder(pb.GetOrderRequest(order_id="not-a-uuid"), metadata=md(T1, "u1")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "order_id",
        ),
        (
            lambda: h.stub.ListOrders(pb.ListOrdersRequest(page_size=1000), metadata=md(T1, "u1")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_size",
        ),
        (
            lambda: h.stub.ListOrders(pb.ListOrdersRequest(page_token="garbage"), metadata=md(T1, "u1")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_token",
        ),
        (
            lambda: h.stub.GetOrder(pb.GetOrderRequest(order_id=str(uuid.uuid4())), metadata=md(T1, "u1")),
            grpc.StatusCode.NOT_FOUND,
            "not found",
        ),
        (
            lambda: h.stub.GetOrder(pb.GetOrderRequest(order_id=str(uuid.uuid4()))),
            grpc.StatusCode.INVALID_ARGUMENT,
            "x-tenant-id",
        ),
    ]
    for call, expected, fragment in cases:
        code, details = code_of(call)
        assert code == expected, (expected, details)
        assert fragment in details, details
    assert count_orders(mongo_url, h) == 0
    assert state.held() == 0
    assert state.products[(T1, p1)].stock == 5


def test_cross_tenant_reads_and_writes_fail_even_with_ids(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    state.add(T2, "mug", 100, 5)
    order = place(h, T1, "u1", [(p1, 1)])
    # tenant B, same user id, even as admin
    for meta in (md(T2, "u1"), md(T2, "staff", "admin")):
        code, _ = code_of(
            lambda meta=meta: h.stub.GetOrder(pb.GetOrderRequest(order_id=order.id, user_id="u1"), metadata=meta)
        )
        assert code == grpc.StatusCode.NOT_FOUND
        code, _ = code_of(
            lambda meta=meta: h.stub.CancelOrder(
                pb.CancelOrderRequest(order_id=order.id, expected_version=1), metadata=meta
            )
        )
        assert code == grpc.StatusCode.NOT_FOUND
        code, _ = code_of(
            lambda meta=meta: h.stub.UpdateOrderStatus(
                pb.UpdateOrderStatusRequest(order_id=order.id, status=pb.CONFIRMED, expected_version=1), metadata=meta
            )
        )
        assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)
        listed = h.stub.ListOrders(pb.ListOrdersRequest(user_id="u1"), metadata=meta)
        assert list(listed.orders) == []
    # tenant B cannot place against tenant A's product id
    code, _ = code_of(lambda: place(h, T2, "u1", [(p1, 1)]))
    assert code == grpc.StatusCode.NOT_FOUND
    # another user of tenant A cannot read it either
    code, _ = code_of(lambda: h.stub.GetOrder(pb.GetOrderRequest(order_id=order.id), metadata=md(T1, "u2")))
    assert code == grpc.StatusCode.NOT_FOUND
    assert h.stub.GetOrder(pb.GetOrderRequest(order_id=order.id), metadata=md(T1, "u1")).status == pb.PENDING


def test_lifecycle_roles_versions_and_audit(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    order = place(h, T1, "u1", [(p1, 1)])
    admin = md(T1, "staff-1", "admin")

    def update(status: int, version: int, meta: list[tuple[str, str]] = admin) -> pb.Order:
        req = pb.UpdateOrderStatusRequest(order_id=order.id, status=status, expected_version=version, reason="r")
        return h.stub.UpdateOrderStatus(req, metadata=meta)

    assert code_of(lambda: update(pb.CONFIRMED, 1, md(T1, "u1")))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: update(pb.SHIPPED, 1))[0] == grpc.StatusCode.FAILED_PRECONDITION
    assert code_of(lambda: update(pb.CONFIRMED, 7))[0] == grpc.StatusCode.ABORTED
    assert update(pb.CONFIRMED, 1).version == 2
    # a customer may not cancel a confirmed order; staff may
    cancel = pb.CancelOrderRequest(order_id=order.id, expected_version=2)
    assert code_of(lambda: h.stub.CancelOrder(cancel, metadata=md(T1, "u1")))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert update(pb.SHIPPED, 2).status == pb.SHIPPED
    assert update(pb.DELIVERED, 3).status == pb.DELIVERED
    assert code_of(lambda: update(pb.CANCELLED, 4))[0] == grpc.StatusCode.FAILED_PRECONDITION
    audit = h.stub.ListOrderAudit(pb.ListOrderAuditRequest(order_id=order.id), metadata=admin).records
    assert [(r.from_status, r.to_status, r.order_version) for r in audit] == [
        (0, pb.PENDING, 1),
        (pb.PENDING, pb.CONFIRMED, 2),
        (pb.CONFIRMED, pb.SHIPPED, 3),
        (pb.SHIPPED, pb.DELIVERED, 4),
    ]
    assert all(r.tenant_id == T1 for r in audit)
    assert audit[1].actor == "admin:staff-1"


def test_customer_cancel_pending_releases_stock(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    state.fail_commit = True  # the batched commit fails: the reservation stays HELD
    order = place(h, T1, "u1", [(p1, 2)], "key-held-0001")  # accepted all the same: the reply does not wait for it
    assert state.reservations[(T1, order.reservation_id)][0] == HELD
    assert state.products[(T1, p1)].stock == 3
    cancelled = h.stub.CancelOrder(
        pb.CancelOrderRequest(order_id=order.id, expected_version=1, reason="changed my mind"), metadata=md(T1, "u1")
    )
    assert cancelled.status == pb.CANCELLED
    assert cancelled.version == 2
    assert state.reservations[(T1, order.reservation_id)][0] == RELEASED
    assert state.products[(T1, p1)].stock == 5


def reservation_state(mongo_url: str, h: OrdersHandle, order_id: str) -> str:
    """The order's reservation_state as stored (internal bookkeeping, not in the API)."""
    with MongoClient(mongo_url) as c:
        doc = c[h.database]["orders"].find_one({"_id": order_id})
    assert doc is not None
    return str(doc["reservation_state"])


def test_cancel_after_the_commit_returns_the_stock(shop, mongo_url) -> None:  # type: ignore[no-untyped-def]
    """Committed is sold, not shipped: a cancel gives committed stock back too (ReturnReservation), once."""
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    order = place(h, T1, "u1", [(p1, 2)])
    assert eventually(lambda: reservation_state(mongo_url, h, order.id) == "COMMITTED")
    assert state.products[(T1, p1)].stock == 3
    cancelled = h.stub.CancelOrder(
        pb.CancelOrderRequest(order_id=order.id, expected_version=1, reason="changed my mind"), metadata=md(T1, "u1")
    )
    assert (cancelled.status, cancelled.version) == (pb.CANCELLED, 2)
    assert state.reservations[(T1, order.reservation_id)][0] == RETURNED
    assert state.products[(T1, p1)].stock == 5
    assert reservation_state(mongo_url, h, order.id) == "RETURNED"
    again = pb.CancelOrderRequest(order_id=order.id, expected_version=2)
    assert code_of(lambda: h.stub.CancelOrder(again, metadata=md(T1, "u1")))[0] == grpc.StatusCode.PERMISSION_DENIED
    staff_again = lambda: h.stub.CancelOrder(again, metadata=md(T1, "staff-1", "admin"))  # noqa: E731
    assert code_of(staff_again)[0] == grpc.StatusCode.FAILED_PRECONDITION
    assert state.products[(T1, p1)].stock == 5
    assert state.calls.count("return") == 1


def test_shipped_goods_cannot_be_cancelled_so_their_stock_stays_sold(shop, mongo_url) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    order = place(h, T1, "u1", [(p1, 2)])
    admin = md(T1, "staff-1", "admin")
    for version, status in ((1, pb.CONFIRMED), (2, pb.SHIPPED)):
        req = pb.UpdateOrderStatusRequest(order_id=order.id, status=status, expected_version=version, reason="r")
        h.stub.UpdateOrderStatus(req, metadata=admin)
    cancel = pb.CancelOrderRequest(order_id=order.id, expected_version=3)
    assert code_of(lambda: h.stub.CancelOrder(cancel, metadata=admin))[0] == grpc.StatusCode.FAILED_PRECONDITION
    assert eventually(lambda: reservation_state(mongo_url, h, order.id) == "COMMITTED")
    assert state.reservations[(T1, order.reservation_id)][0] == COMMITTED
    assert state.products[(T1, p1)].stock == 3
    assert "return" not in state.calls


def test_a_return_catalog_could_not_answer_is_paid_by_the_recovery_sweep(shop, mongo_url) -> None:  # type: ignore[no-untyped-def]
    """The cancel stands while catalog is down; the debt (RETURNING) is in the store and the sweep pays it."""
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    order = place(h, T1, "u1", [(p1, 2)])
    assert eventually(lambda: reservation_state(mongo_url, h, order.id) == "COMMITTED")
    state.fail_return = True
    cancelled = h.stub.CancelOrder(pb.CancelOrderRequest(order_id=order.id, expected_version=1), metadata=md(T1, "u1"))
    assert cancelled.status == pb.CANCELLED
    assert state.products[(T1, p1)].stock == 3
    assert reservation_state(mongo_url, h, order.id) == "RETURNING"
    state.fail_return = False
    service = h.app.service
    assert service.recover_once().stock_given_back == 0  # just cancelled: the cancel itself may still be at it
    real_clock = service.clock
    service.clock = lambda: real_clock() + timedelta(seconds=10)
    assert service.recover_once().stock_given_back == 1
    assert state.reservations[(T1, order.reservation_id)][0] == RETURNED
    assert state.products[(T1, p1)].stock == 5
    assert reservation_state(mongo_url, h, order.id) == "RETURNED"
    assert service.recover_once().stock_given_back == 0  # paid once
    assert state.products[(T1, p1)].stock == 5


def test_replay_finishes_the_stock_commit_of_its_order(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 5)
    state.fail_commit = True
    order = place(h, T1, "u1", [(p1, 2)], "key-held-0002")
    assert state.reservations[(T1, order.reservation_id)][0] == HELD
    assert code_of(lambda: place(h, T1, "u1", [(p1, 2)], "key-held-0002"))[0] == grpc.StatusCode.UNAVAILABLE
    state.fail_commit = False
    assert place(h, T1, "u1", [(p1, 2)], "key-held-0002") == order  # the replay commits inline
    assert state.reservations[(T1, order.reservation_id)][0] == COMMITTED
    assert state.products[(T1, p1)].stock == 3


def test_history_pagination_newest_first(shop) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    p1 = state.add(T1, "mug", 100, 50)
    ids = [place(h, T1, "u9", [(p1, 1)]).id for _ in range(7)]
    seen: list[str] = []
    token = ""
    while True:
        page = h.stub.ListOrders(pb.ListOrdersRequest(page_size=3, page_token=token), metadata=md(T1, "u9"))
        seen += [o.id for o in page.orders]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 7
    # another user's token is refused
    first = h.stub.ListOrders(pb.ListOrdersRequest(page_size=3), metadata=md(T1, "u9")).next_page_token
    code, _ = code_of(lambda: h.stub.ListOrders(pb.ListOrdersRequest(page_token=first), metadata=md(T1, "u8")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_health_not_serving_when_store_is_down(fake_catalog, orders_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.services.mongo_server import MongoServer

    _, addr = fake_catalog
    server = MongoServer(tmp_path / "mongo")
    url = server.start()
    h = start = None
    try:
        from tests.services.orders.conftest import start_orders

        h = start_orders(url, addr, "orders_health")
        health = health_pb2_grpc.HealthStub(h.channel)
        ok = health.Check(health_pb2.HealthCheckRequest(service=""))
        assert ok.status == health_pb2.HealthCheckResponse.SERVING
        server.stop()
        import time

        deadline = time.monotonic() + 15
        status = ok.status
        while time.monotonic() < deadline and status == health_pb2.HealthCheckResponse.SERVING:
            time.sleep(0.3)
            status = health.Check(health_pb2.HealthCheckRequest(service="")).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        server.stop()
        if h is not None:
            h.app.server.stop(0)
        del start


# -- why a request was refused: the reason (google.rpc.ErrorInfo), not the message ----------------------------


def reason(fn: Callable[[], object]) -> tuple[grpc.StatusCode, ErrorReason | None]:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), reason_of(info.value)


def place_in(h: OrdersHandle, items: list[tuple[str, int]], k: str, currency: str, city: str = "Oslo") -> pb.Order:
    req = pb.PlaceOrderRequest(
        idempotency_key=k,
        items=[pb.OrderItemRequest(product_id=p, quantity=q) for p, q in items],
        currency=currency,
        shipping_address=common_pb2.Address(name="A", line1="1 Road", city=city, postal_code="0150", country="NO"),
    )
    return h.stub.PlaceOrder(req, metadata=md(T1, "u1"), timeout=20)


def test_every_checkout_refusal_carries_its_reason(shop, mongo_url) -> None:  # type: ignore[no-untyped-def]
    state, h = shop
    usd = state.add(T1, "mug", 100, 2)
    eur = state.add(T1, "tee", 900, 5, currency="EUR")
    unknown = str(uuid.uuid4())
    # Catalog's ReserveStock refusals, by its contract's codes (this fake sends no reason): orders names them.
    assert reason(lambda: place(h, T1, "u1", [(usd, 1), (unknown, 1)])) == (
        grpc.StatusCode.NOT_FOUND,
        ErrorReason(Reason.UNKNOWN_PRODUCT),
    )
    assert reason(lambda: place(h, T1, "u1", [(usd, 3)])) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        ErrorReason(Reason.OUT_OF_STOCK),
    )
    assert reason(lambda: place(h, T1, "u1", [(usd, 1), (eur, 1)])) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        ErrorReason(Reason.MIXED_CURRENCIES, {"currencies": "EUR,USD"}),
    )
    k = key()
    place(h, T1, "u1", [(usd, 1)], k)
    assert reason(lambda: place(h, T1, "u1", [(eur, 1)], k)) == (
        grpc.StatusCode.ALREADY_EXISTS,
        ErrorReason(Reason.IDEMPOTENCY_KEY_REUSED),
    )
    # Other refusals carry no reason: a caller maps them by their code.
    assert reason(lambda: place(h, T1, "u1", [(usd, 0)])) == (grpc.StatusCode.INVALID_ARGUMENT, None)
    missing = pb.GetOrderRequest(order_id=str(uuid.uuid4()))
    assert reason(lambda: h.stub.GetOrder(missing, metadata=md(T1, "u1"))) == (grpc.StatusCode.NOT_FOUND, None)
    # orders' own outage (its store) is not a dependency's: no reason, the caller counts it against orders.
    assert reason_for(dom.DependencyUnavailable("order store unavailable")) is None
    assert count_orders(mongo_url, h) == 1


def test_catalog_down_is_unavailable_with_the_dependency_named(orders_factory) -> None:  # type: ignore[no-untyped-def]
    h = orders_factory(f"127.0.0.1:{free_port()}")  # nothing listens there
    code, why = reason(lambda: place(h, T1, "u1", [(str(uuid.uuid4()), 1)]))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert why == ErrorReason(Reason.DEPENDENCY_UNAVAILABLE, {"dependency": "catalog"})


def test_an_empty_currency_and_the_orders_currency_are_the_same_request(shop) -> None:  # type: ignore[no-untyped-def]
    """Older clients named the currency they read from catalog; the gateway now sends "" (the prices' currency).

    A retry with the same key by a client of the other kind (during a rolling deploy) is a replay, not a conflict.
    """
    state, h = shop
    mug = state.add(T1, "mug", 100, 10)
    k1, k2 = key(), key()
    named = place_in(h, [(mug, 1)], k1, "USD")
    assert place_in(h, [(mug, 1)], k1, "") == named
    left = place_in(h, [(mug, 2)], k2, "")
    assert place_in(h, [(mug, 2)], k2, "usd") == left  # upper-cased like any currency
    for other_request in (
        lambda: place_in(h, [(mug, 1)], k1, "EUR"),  # a currency the order is not in
        lambda: place_in(h, [(mug, 2)], k2, "EUR"),
        lambda: place_in(h, [(mug, 3)], k2, ""),  # other lines
        lambda: place_in(h, [(mug, 2)], k2, "USD", city="Bergen"),  # another address
    ):
        assert reason(other_request)[0] == grpc.StatusCode.ALREADY_EXISTS
    assert state.products[(T1, mug)].stock == 7
