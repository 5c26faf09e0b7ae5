"""Catalog over gRPC against a real PostgreSQL: products, pagination, search, bad input, reservations."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest

from services.common.errors import ErrorReason, Reason, reason_of
from services.common.server import ShopServer
from services.protos.gen.shop.catalog.v1 import catalog_pb2 as pb
from services.protos.gen.shop.catalog.v1 import catalog_pb2_grpc
from services.protos.gen.shop.common.v1 import common_pb2
from tests.services.catalog.catalog_support import CatalogDb, md

Stub = catalog_pb2_grpc.CatalogServiceStub


def _tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _create(
    stub: Stub,
    tenant: str,
    sku: str,
    stock: int = 10,
    name: str = "Thing",
    price: int = 500,
    description: str = "",
    category: str = "misc",
) -> pb.Product:
    return stub.CreateProduct(
        pb.CreateProductRequest(
            sku=sku,
            name=name,
            description=description,
            category=category,
            price=common_pb2.Money(units_minor=price, currency="USD"),
            initial_stock=stock,
        ),
        metadata=md(tenant, admin=True),
        timeout=10,
    )


def _err(fn, *args, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, timeout=10, **kwargs)
    return info.value


def _reserve(
    stub: Stub, tenant: str, items: list[tuple[str, int]], rid: str | None = None, ttl: int = 0, timeout: float = 10
) -> pb.Reservation:
    return stub.ReserveStock(
        pb.ReserveStockRequest(
            reservation_id=rid or str(uuid.uuid4()),
            ttl_seconds=ttl,
            items=[pb.ReservationItem(product_id=p, quantity=q) for p, q in items],
        ),
        metadata=md(tenant),
        timeout=timeout,
    )


def test_admin_calls_need_the_admin_token(stub: Stub) -> None:
    req = pb.CreateProductRequest(sku="X", name="X", price=common_pb2.Money(units_minor=1, currency="USD"))
    assert _err(stub.CreateProduct, req, metadata=md("acme")).code() == grpc.StatusCode.UNAUTHENTICATED
    bad = (("x-tenant-id", "acme"), ("x-admin-token", "wrong"))
    assert _err(stub.CreateProduct, req, metadata=bad).code() == grpc.StatusCode.PERMISSION_DENIED


def test_list_pages_cover_everything_once(stub: Stub) -> None:
    tenant = _tenant()
    assert stub.SeedDemoCatalog(pb.SeedDemoCatalogRequest(), metadata=md(tenant, admin=True), timeout=30).created == 12
    assert stub.SeedDemoCatalog(pb.SeedDemoCatalogRequest(), metadata=md(tenant, admin=True), timeout=30).created == 0
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = stub.ListProducts(pb.ListProductsRequest(page_size=5, page_token=token), metadata=md(tenant), timeout=10)
        seen += [p.sku for p in page.products]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert len(seen) == 12
    assert seen == sorted(set(seen))
    cat = stub.ListProducts(pb.ListProductsRequest(category="kitchen"), metadata=md(tenant), timeout=10)
    assert {p.category for p in cat.products} == {"kitchen"}
    assert len(cat.products) == 3


def test_page_size_and_tokens_are_validated(stub: Stub) -> None:
    tenant = _tenant()
    for size in (101, -1):
        e = _err(stub.ListProducts, pb.ListProductsRequest(page_size=size), metadata=md(tenant))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_size" in e.details()
    for _ in range(3):
        _create(stub, tenant, f"S-{uuid.uuid4().hex[:6]}")
    page = stub.ListProducts(pb.ListProductsRequest(page_size=1), metadata=md(tenant), timeout=10)
    other = _tenant()
    e = _err(
        stub.ListProducts, pb.ListProductsRequest(page_size=1, page_token=page.next_page_token), metadata=md(other)
    )
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in e.details()
    e = _err(stub.ListProducts, pb.ListProductsRequest(page_token="not-a-token"), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_full_text_search_ranks_and_paginates(stub: Stub) -> None:
    tenant = _tenant()
    stub.SeedDemoCatalog(pb.SeedDemoCatalogRequest(), metadata=md(tenant, admin=True), timeout=30)
    res = stub.SearchProducts(pb.SearchProductsRequest(query="coffee mug"), metadata=md(tenant), timeout=10)
    assert {p.sku for p in res.products} >= {"MUG-001", "MUG-002"}
    first = stub.SearchProducts(
        pb.SearchProductsRequest(query="coffee OR wool OR lamp", page_size=1), metadata=md(tenant), timeout=10
    )
    collected = [p.sku for p in first.products]
    token = first.next_page_token
    while token:
        nxt = stub.SearchProducts(
            pb.SearchProductsRequest(query="coffee OR wool OR lamp", page_size=1, page_token=token),
            metadata=md(tenant),
            timeout=10,
        )
        collected += [p.sku for p in nxt.products]
        token = nxt.next_page_token
    assert len(collected) == len(set(collected)) >= 4
    e = _err(stub.SearchProducts, pb.SearchProductsRequest(query="  "), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "query" in e.details()


def test_bad_input_gets_clear_errors_and_writes_nothing(stub: Stub) -> None:
    tenant = _tenant()
    a = _create(stub, tenant, "A", stock=5)
    b = _create(stub, tenant, "B", stock=1)
    e = _err(stub.GetProduct, pb.GetProductRequest(product_id="42"), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "product_id" in e.details()
    e = _err(stub.GetProduct, pb.GetProductRequest(product_id=str(uuid.uuid4())), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = _err(_reserve, stub, tenant, [(a.id, -1)])
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items[0].quantity" in e.details()
    e = _err(_reserve, stub, tenant, [(a.id, 1), ("nope", 1)])
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items[1].product_id" in e.details()
    e = _err(_reserve, stub, tenant, [(a.id, 1), (a.id, 1)])
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "duplicates" in e.details()
    e = _err(_reserve, stub, tenant, [(a.id, 1)], rid="not-a-uuid")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reservation_id" in e.details()
    # all-or-nothing: the second item fails after the first was taken inside the transaction
    rid = str(uuid.uuid4())
    e = _err(_reserve, stub, tenant, [(a.id, 2), (b.id, 5)], rid=rid)
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "insufficient stock" in e.details()
    # Why, for programs (orders passes it on): ErrorInfo reason and metadata, not the message.
    assert reason_of(e) == ErrorReason(Reason.OUT_OF_STOCK, {"product_id": b.id, "requested": "5", "available": "1"})
    rid2 = str(uuid.uuid4())
    ghost = str(uuid.uuid4())
    e = _err(_reserve, stub, tenant, [(a.id, 2), (ghost, 1)], rid=rid2)
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(e) == ErrorReason(Reason.UNKNOWN_PRODUCT, {"product_ids": ghost})
    # Refusals that are not one of the documented reasons carry none.
    assert reason_of(_err(_reserve, stub, tenant, [(a.id, -1)])) is None
    for pid, stock in ((a.id, 5), (b.id, 1)):
        assert (
            stub.GetProduct(pb.GetProductRequest(product_id=pid), metadata=md(tenant), timeout=10).stock_available
            == stock
        )
    for r in (rid, rid2):
        e = _err(stub.CommitReservation, pb.CommitReservationRequest(reservation_id=r), metadata=md(tenant))
        assert e.code() == grpc.StatusCode.NOT_FOUND
    e = _err(
        stub.CreateProduct,
        pb.CreateProductRequest(sku="C", name="C", price=common_pb2.Money(units_minor=1, currency="usd")),
        metadata=md(tenant, admin=True),
    )
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "price.currency" in e.details()
    e = _err(
        stub.CreateProduct,
        pb.CreateProductRequest(sku="A", name="dup", price=common_pb2.Money(units_minor=1, currency="USD")),
        metadata=md(tenant, admin=True),
    )
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    e = _err(
        stub.BatchGetProducts, pb.BatchGetProductsRequest(product_ids=[str(uuid.uuid4())] * 101), metadata=md(tenant)
    )
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_fifty_concurrent_reservations_for_last_ten_units_never_oversell(stub: Stub) -> None:
    tenant = _tenant()
    product = _create(stub, tenant, "LAST", stock=10)

    def attempt(_: int) -> str:
        try:
            _reserve(stub, tenant, [(product.id, 1)])
            return "ok"
        except grpc.RpcError as exc:
            return exc.code().name

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, range(50)))
    assert outcomes.count("ok") == 10, outcomes
    assert outcomes.count("FAILED_PRECONDITION") == 40, outcomes
    assert (
        stub.GetProduct(pb.GetProductRequest(product_id=product.id), metadata=md(tenant), timeout=10).stock_available
        == 0
    )


def test_reservation_lifecycle(stub: Stub, catalog_server: ShopServer) -> None:
    tenant = _tenant()
    p = _create(stub, tenant, "R", stock=10)
    rid = str(uuid.uuid4())
    r1 = _reserve(stub, tenant, [(p.id, 3)], rid=rid)
    assert r1.status == pb.Reservation.HELD
    assert _reserve(stub, tenant, [(p.id, 3)], rid=rid).reservation_id == rid  # retry is idempotent
    e = _err(_reserve, stub, tenant, [(p.id, 4)], rid=rid)
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    stock = stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md(tenant), timeout=10)
    assert stock.stock_available == 7
    c = stub.CommitReservation(pb.CommitReservationRequest(reservation_id=rid), metadata=md(tenant), timeout=10)
    assert c.status == pb.Reservation.COMMITTED
    e = _err(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id=rid), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    rid2 = str(uuid.uuid4())
    _reserve(stub, tenant, [(p.id, 2)], rid=rid2)
    rel = stub.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=rid2), metadata=md(tenant), timeout=10)
    assert rel.status == pb.Reservation.RELEASED
    assert stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md(tenant), timeout=10).stock_available == 7
    # expiry: a 1-second hold is returned by the sweeper and can no longer be committed
    rid3 = str(uuid.uuid4())
    _reserve(stub, tenant, [(p.id, 5)], rid=rid3, ttl=1)
    time.sleep(1.3)
    assert catalog_server.sweeper.sweep_once() >= 1  # type: ignore[attr-defined]
    assert stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md(tenant), timeout=10).stock_available == 7
    e = _err(stub.CommitReservation, pb.CommitReservationRequest(reservation_id=rid3), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "EXPIRED" in e.details()


def test_reservation_answers_with_the_prices_it_reserved_at(stub: Stub) -> None:
    """orders prices its lines from ReserveStock's answer (no BatchGetProducts first): the answer must carry them."""
    tenant = _tenant()
    mug = _create(stub, tenant, "MUG", stock=5, name="Mug", price=1250)
    tee = _create(stub, tenant, "TEE", stock=5, name="Tee", price=2000)
    rid = str(uuid.uuid4())
    r = _reserve(stub, tenant, [(mug.id, 2), (tee.id, 1)], rid=rid)
    got = {
        (i.product_id, i.sku, i.name, i.quantity, i.unit_price.units_minor, i.unit_price.currency)
        for i in r.priced_items
    }
    assert got == {(mug.id, "MUG", "Mug", 2, 1250, "USD"), (tee.id, "TEE", "Tee", 1, 2000, "USD")}
    # A retry (lost answer) is priced too, and takes no more stock.
    again = _reserve(stub, tenant, [(mug.id, 2), (tee.id, 1)], rid=rid)
    assert {(i.product_id, i.quantity, i.unit_price.units_minor) for i in again.priced_items} == {
        (mug.id, 2, 1250),
        (tee.id, 1, 2000),
    }
    assert (
        stub.GetProduct(pb.GetProductRequest(product_id=mug.id), metadata=md(tenant), timeout=10).stock_available == 3
    )
    # Committing twice: the same answer, the stock moved once.
    for _ in range(2):
        c = stub.CommitReservation(pb.CommitReservationRequest(reservation_id=rid), metadata=md(tenant), timeout=10)
        assert c.status == pb.Reservation.COMMITTED
        assert sorted((i.product_id, i.quantity) for i in c.items) == sorted([(mug.id, 2), (tee.id, 1)])
    assert (
        stub.GetProduct(pb.GetProductRequest(product_id=mug.id), metadata=md(tenant), timeout=10).stock_available == 3
    )


def test_commit_reservations_in_one_batch(stub: Stub) -> None:
    """Batched commit (orders commits after answering): same-product reservations add up, failures are per id."""
    tenant = _tenant()
    p = _create(stub, tenant, "BATCH", stock=10)
    a, b, done, released = (str(uuid.uuid4()) for _ in range(4))
    for rid, qty in ((a, 2), (b, 3), (done, 1), (released, 1)):
        _reserve(stub, tenant, [(p.id, qty)], rid=rid)
    stub.CommitReservation(pb.CommitReservationRequest(reservation_id=done), metadata=md(tenant), timeout=10)
    stub.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=released), metadata=md(tenant), timeout=10)
    ghost = str(uuid.uuid4())
    resp = stub.CommitReservations(
        pb.CommitReservationsRequest(reservation_ids=[a, b, done, released, ghost]), metadata=md(tenant), timeout=10
    )
    assert sorted(resp.committed) == sorted([a, b, done])
    assert {(f.reservation_id, f.status) for f in resp.failed} == {
        (released, pb.Reservation.RELEASED),
        (ghost, pb.Reservation.STATUS_UNSPECIFIED),
    }
    # 10 - 2 - 3 - 1 committed, the released unit back: 4 available, and a second batch changes nothing.
    again = stub.CommitReservations(
        pb.CommitReservationsRequest(reservation_ids=[a, b]), metadata=md(tenant), timeout=10
    )
    assert sorted(again.committed) == sorted([a, b])
    assert stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md(tenant), timeout=10).stock_available == 4
    e = _err(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id=a), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Another tenant cannot commit these ids: they do not exist for it.
    other = stub.CommitReservations(
        pb.CommitReservationsRequest(reservation_ids=[a]), metadata=md(_tenant()), timeout=10
    )
    assert list(other.committed) == []
    e = _err(stub.CommitReservations, pb.CommitReservationsRequest(reservation_ids=["x"]), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT


def _totals(db: CatalogDb, product_id: str) -> tuple[int, int, int]:
    """(available, reserved, committed) of a product, read as the database owner (every tenant)."""
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute(
            "SELECT stock_available, stock_reserved, stock_committed FROM products WHERE id = %s", [product_id]
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _status(db: CatalogDb, reservation_id: str) -> str:
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute("SELECT status FROM reservations WHERE id = %s", [reservation_id]).fetchone()
    assert row is not None
    return str(row[0])


def _return(stub: Stub, tenant: str, rid: str) -> pb.Reservation:
    return stub.ReturnReservation(pb.ReturnReservationRequest(reservation_id=rid), metadata=md(tenant), timeout=10)


def test_return_gives_committed_stock_back_exactly_once(stub: Stub, catalog_db: CatalogDb) -> None:
    """A cancelled order's stock comes back after its commit too (COMMITTED -> RETURNED), once however often asked."""
    tenant = _tenant()
    p = _create(stub, tenant, "RET", stock=10)
    rid = str(uuid.uuid4())
    _reserve(stub, tenant, [(p.id, 3)], rid=rid)
    stub.CommitReservations(pb.CommitReservationsRequest(reservation_ids=[rid]), metadata=md(tenant), timeout=10)
    assert _totals(catalog_db, p.id) == (7, 0, 3)
    # ReleaseReservation still refuses committed stock (a placement's compensation must not give back a sale) ...
    e = _err(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id=rid), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "COMMITTED" in e.details()
    assert "ReturnReservation" in e.details()
    assert _totals(catalog_db, p.id) == (7, 0, 3)
    # ... ReturnReservation gives it back, and its retries (one after another and concurrent) move nothing again.
    returned = _return(stub, tenant, rid)
    assert returned.status == pb.Reservation.RETURNED
    assert [(i.product_id, i.quantity) for i in returned.items] == [(p.id, 3)]
    assert _totals(catalog_db, p.id) == (10, 0, 0)
    with ThreadPoolExecutor(max_workers=5) as pool:
        again = list(pool.map(lambda _: _return(stub, tenant, rid).status, range(5)))
    assert again == [pb.Reservation.RETURNED] * 5
    assert _totals(catalog_db, p.id) == (10, 0, 0)
    # A returned reservation stays given back: neither a release nor a commit moves its stock.
    rel = stub.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=rid), metadata=md(tenant), timeout=10)
    assert rel.status == pb.Reservation.RETURNED
    e = _err(stub.CommitReservation, pb.CommitReservationRequest(reservation_id=rid), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "RETURNED" in e.details()
    batch = stub.CommitReservations(
        pb.CommitReservationsRequest(reservation_ids=[rid]), metadata=md(tenant), timeout=10
    )
    assert list(batch.committed) == []
    assert [(f.reservation_id, f.status) for f in batch.failed] == [(rid, pb.Reservation.RETURNED)]
    assert _totals(catalog_db, p.id) == (10, 0, 0)
    assert stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md(tenant), timeout=10).stock_available == 10


def test_return_of_held_expired_and_unknown_reservations(
    stub: Stub, catalog_db: CatalogDb, catalog_server: ShopServer
) -> None:
    """Whatever state the reservation is in: HELD stock comes back (RELEASED), given-back ones are answered as is."""
    tenant = _tenant()
    p = _create(stub, tenant, "RETH", stock=10)
    held, expired = str(uuid.uuid4()), str(uuid.uuid4())
    _reserve(stub, tenant, [(p.id, 2)], rid=held)
    _reserve(stub, tenant, [(p.id, 4)], rid=expired, ttl=1)
    assert _totals(catalog_db, p.id) == (4, 6, 0)
    assert _return(stub, tenant, held).status == pb.Reservation.RELEASED
    assert _return(stub, tenant, held).status == pb.Reservation.RELEASED
    assert _totals(catalog_db, p.id) == (6, 4, 0)
    with psycopg.connect(catalog_db.admin_url) as conn:  # its hold is over: the sweeper gives its stock back
        conn.execute("UPDATE reservations SET expires_at = now() - interval '1 s' WHERE id = %s", [expired])
    assert catalog_server.sweeper.sweep_once() >= 1  # type: ignore[attr-defined]
    assert _totals(catalog_db, p.id) == (10, 0, 0)
    assert _return(stub, tenant, expired).status == pb.Reservation.EXPIRED
    assert _totals(catalog_db, p.id) == (10, 0, 0)
    e = _err(stub.ReturnReservation, pb.ReturnReservationRequest(reservation_id=str(uuid.uuid4())), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = _err(stub.ReturnReservation, pb.ReturnReservationRequest(reservation_id="not-a-uuid"), metadata=md(tenant))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reservation_id" in e.details()


def test_return_racing_the_batch_commit_gives_the_stock_back_once(stub: Stub, catalog_db: CatalogDb) -> None:
    """A cancel's return and orders' batched commit of the same reservation at once: the row lock orders them.

    Commit first: the return gives the committed stock back (RETURNED). Return first: the reservation is RELEASED
    and the commit reports it failed with that status (orders then finds its order cancelled already).
    """
    tenant = _tenant()
    p = _create(stub, tenant, "RACE", stock=1000)
    outcomes = set()
    for _ in range(12):
        rid = str(uuid.uuid4())
        _reserve(stub, tenant, [(p.id, 5)], rid=rid)
        barrier = threading.Barrier(2)

        def commit(rid: str = rid, barrier: threading.Barrier = barrier) -> pb.CommitReservationsResponse:
            barrier.wait()
            return stub.CommitReservations(
                pb.CommitReservationsRequest(reservation_ids=[rid]), metadata=md(tenant), timeout=10
            )

        def give_back(rid: str = rid, barrier: threading.Barrier = barrier) -> pb.Reservation:
            barrier.wait()
            return _return(stub, tenant, rid)

        with ThreadPoolExecutor(max_workers=2) as pool:
            committing, returning = pool.submit(commit), pool.submit(give_back)
            batch, returned = committing.result(), returning.result()
        if list(batch.committed) == [rid]:
            assert returned.status == pb.Reservation.RETURNED
        else:
            assert [(f.reservation_id, f.status) for f in batch.failed] == [(rid, pb.Reservation.RELEASED)]
            assert returned.status == pb.Reservation.RELEASED
        assert _status(catalog_db, rid) == pb.Reservation.Status.Name(returned.status)
        assert _totals(catalog_db, p.id) == (1000, 0, 0)
        assert _return(stub, tenant, rid).status == returned.status  # a retry afterwards moves nothing
        assert _totals(catalog_db, p.id) == (1000, 0, 0)
        outcomes.add(returned.status)
    print("race outcomes:", sorted(pb.Reservation.Status.Name(s) for s in outcomes))


def test_reserving_unknown_products_names_every_one_and_takes_nothing(stub: Stub) -> None:
    tenant = _tenant()
    p = _create(stub, tenant, "REAL", stock=5)
    ghosts = sorted(str(uuid.uuid4()) for _ in range(2))
    e = _err(_reserve, stub, tenant, [(p.id, 1), (ghosts[0], 1), (ghosts[1], 1)])
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert e.details().startswith("unknown product(s): ")
    assert all(g in e.details() for g in ghosts)
    assert p.id not in e.details()
    assert stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md(tenant), timeout=10).stock_available == 5


def test_update_uses_optimistic_concurrency(stub: Stub) -> None:
    tenant = _tenant()
    p = _create(stub, tenant, "U")
    up = stub.UpdateProduct(
        pb.UpdateProductRequest(product_id=p.id, name="Renamed", expected_version=p.version),
        metadata=md(tenant, admin=True),
        timeout=10,
    )
    assert up.name == "Renamed"
    assert up.version == p.version + 1
    assert up.description == p.description
    e = _err(
        stub.UpdateProduct,
        pb.UpdateProductRequest(product_id=p.id, name="Again", expected_version=p.version),
        metadata=md(tenant, admin=True),
    )
    assert e.code() == grpc.StatusCode.ABORTED
    e = _err(stub.AdjustStock, pb.AdjustStockRequest(product_id=p.id, delta=-11), metadata=md(tenant, admin=True))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_watch_streams_changes_of_own_tenant_only(stub: Stub) -> None:
    tenant, other = _tenant(), _tenant()
    p = _create(stub, tenant, "W")
    q = _create(stub, other, "W")
    stream = stub.WatchProductChanges(pb.WatchProductChangesRequest(), metadata=md(tenant), timeout=20)
    first = next(stream)
    assert first.kind == pb.ProductChangeEvent.RESYNC
    time.sleep(0.3)  # the subscription is registered before the first message; give LISTEN a moment
    stub.UpdateProduct(
        pb.UpdateProductRequest(product_id=q.id, name="other tenant"), metadata=md(other, admin=True), timeout=10
    )
    stub.UpdateProduct(
        pb.UpdateProductRequest(product_id=p.id, name="mine"), metadata=md(tenant, admin=True), timeout=10
    )
    # The CREATED notifications of the set-up may still be in flight when the subscription starts: read on
    # (boundedly) until our update arrives, and require that nothing of the other tenant ever shows up.
    seen = []
    for _ in range(10):
        event = next(stream)
        seen.append(event)
        if event.kind == pb.ProductChangeEvent.UPDATED:
            break
    stream.cancel()
    assert seen[-1].kind == pb.ProductChangeEvent.UPDATED
    assert seen[-1].product_id == p.id
    assert all(e.tenant_id == tenant and e.product_id != q.id for e in seen)


def test_watch_sends_a_burst_of_changes_as_fewer_messages(stub: Stub) -> None:
    """Every order changes stock: a burst must not cost one message (and one cache invalidation) per change."""
    tenant = _tenant()
    a, b, sentinel = (_create(stub, tenant, f"BURST-{i}") for i in range(3))
    stream = stub.WatchProductChanges(pb.WatchProductChangesRequest(), metadata=md(tenant), timeout=30)
    assert next(stream).kind == pb.ProductChangeEvent.RESYNC
    time.sleep(0.3)
    admin = md(tenant, admin=True)
    for i in range(20):
        stub.AdjustStock(pb.AdjustStockRequest(product_id=(a, b)[i % 2].id, delta=1), metadata=admin, timeout=10)
    time.sleep(0.3)  # a quiet spell: the next change is sent on its own, at once
    stub.UpdateProduct(pb.UpdateProductRequest(product_id=sentinel.id, name="last"), metadata=admin, timeout=10)
    seen = []
    for event in stream:
        seen.append(event)
        if event.kind == pb.ProductChangeEvent.UPDATED and event.product_id == sentinel.id:
            break
        assert len(seen) < 30, seen
    stream.cancel()
    burst = seen[:-1]  # (may begin with the CREATED events of the set-up, still in flight)
    assert len(burst) < 20, [pb.ProductChangeEvent.Kind.Name(e.kind) for e in burst]
    # Changes of the two products merged into one message ask for a resync: nothing is silently dropped.
    assert any(e.kind == pb.ProductChangeEvent.RESYNC for e in burst)
