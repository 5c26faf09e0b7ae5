"""An in-process fake of shop.catalog.v1 for orders *unit* tests (the acceptance tests use the real catalog).

It follows the contract's reservation semantics: all-or-nothing ReserveStock idempotent on reservation_id,
FAILED_PRECONDITION when stock is short, Commit/Release idempotent, releasing a committed one refused, Return giving
back held (RELEASED) or committed (RETURNED) stock once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from services.protos.gen.shop.common.v1 import common_pb2

R = catalog_pb2.Reservation


@dataclass
class FakeProduct:
    product_id: str
    sku: str
    name: str
    price_minor: int
    currency: str
    stock: int


@dataclass
class FakeCatalogState:
    products: dict[tuple[str, str], FakeProduct] = field(default_factory=dict)
    reservations: dict[tuple[str, str], tuple[int, list[tuple[str, int]]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fail_commit: bool = False
    fail_return: bool = False
    calls: list[str] = field(default_factory=list)

    def add(self, tenant: str, name: str, price: int, stock: int, currency: str = "USD") -> str:
        pid = str(uuid.uuid4())
        self.products[(tenant, pid)] = FakeProduct(pid, f"SKU-{name}", name, price, currency, stock)
        return pid

    def held(self) -> int:
        return sum(1 for status, _ in self.reservations.values() if status == R.HELD)


def _tenant(context: grpc.ServicerContext) -> str:
    return dict(context.invocation_metadata()).get("x-tenant-id", "")


class FakeCatalog(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, state: FakeCatalogState) -> None:
        self.s = state

    def BatchGetProducts(self, request, context):  # type: ignore[no-untyped-def]
        t = _tenant(context)
        found, missing = [], []
        for pid in request.product_ids:
            p = self.s.products.get((t, pid))
            if p is None:
                missing.append(pid)
            else:
                found.append(
                    catalog_pb2.Product(
                        id=p.product_id,
                        sku=p.sku,
                        name=p.name,
                        stock_available=p.stock,
                        price=common_pb2.Money(units_minor=p.price_minor, currency=p.currency),
                    )
                )
        return catalog_pb2.BatchGetProductsResponse(products=found, missing_product_ids=missing)

    def ReserveStock(self, request, context):  # type: ignore[no-untyped-def]
        t = _tenant(context)
        self.s.calls.append("reserve")
        items = [(i.product_id, int(i.quantity)) for i in request.items]
        with self.s.lock:
            existing = self.s.reservations.get((t, request.reservation_id))
            if existing is not None:
                return R(reservation_id=request.reservation_id, status=existing[0], priced_items=self._priced(t, items))
            missing = [pid for pid, _ in items if (t, pid) not in self.s.products]
            if missing:
                context.abort(grpc.StatusCode.NOT_FOUND, f"unknown product(s): {', '.join(missing)}")
            for pid, qty in items:
                p = self.s.products[(t, pid)]
                if p.stock < qty:
                    context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"only {p.stock} of {pid} left")
            for pid, qty in items:
                self.s.products[(t, pid)].stock -= qty
            self.s.reservations[(t, request.reservation_id)] = (R.HELD, items)
        return R(reservation_id=request.reservation_id, status=R.HELD, priced_items=self._priced(t, items))

    def _priced(self, tenant: str, items: list[tuple[str, int]]) -> list[catalog_pb2.ReservedProduct]:
        out = []
        for pid, qty in items:
            p = self.s.products[(tenant, pid)]
            out.append(
                catalog_pb2.ReservedProduct(
                    product_id=pid,
                    sku=p.sku,
                    name=p.name,
                    quantity=qty,
                    unit_price=common_pb2.Money(units_minor=p.price_minor, currency=p.currency),
                )
            )
        return out

    def CommitReservation(self, request, context):  # type: ignore[no-untyped-def]
        t = _tenant(context)
        self.s.calls.append("commit")
        if self.s.fail_commit:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected failure")
        with self.s.lock:
            r = self.s.reservations.get((t, request.reservation_id))
            if r is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "no such reservation")
            if r[0] in (R.RELEASED, R.EXPIRED, R.RETURNED):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "reservation released")
            self.s.reservations[(t, request.reservation_id)] = (R.COMMITTED, r[1])
        return R(reservation_id=request.reservation_id, status=R.COMMITTED)

    def CommitReservations(self, request, context):  # type: ignore[no-untyped-def]
        t = _tenant(context)
        self.s.calls.append("commit")
        if self.s.fail_commit:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected failure")
        committed, failed = [], []
        with self.s.lock:
            for rid in request.reservation_ids:
                r = self.s.reservations.get((t, rid))
                if r is None or r[0] in (R.RELEASED, R.EXPIRED, R.RETURNED):
                    status = r[0] if r is not None else R.STATUS_UNSPECIFIED
                    failed.append(catalog_pb2.CommitFailure(reservation_id=rid, status=status, detail="gone"))
                    continue
                self.s.reservations[(t, rid)] = (R.COMMITTED, r[1])
                committed.append(rid)
        return catalog_pb2.CommitReservationsResponse(committed=committed, failed=failed)

    def ReleaseReservation(self, request, context):  # type: ignore[no-untyped-def]
        t = _tenant(context)
        self.s.calls.append("release")
        with self.s.lock:
            r = self.s.reservations.get((t, request.reservation_id))
            if r is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "no such reservation")
            if r[0] == R.COMMITTED:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "already committed")
            if r[0] in (R.RELEASED, R.EXPIRED, R.RETURNED):
                return R(reservation_id=request.reservation_id, status=r[0])
            for pid, qty in r[1]:
                self.s.products[(t, pid)].stock += qty
            self.s.reservations[(t, request.reservation_id)] = (R.RELEASED, r[1])
        return R(reservation_id=request.reservation_id, status=R.RELEASED)

    def ReturnReservation(self, request, context):  # type: ignore[no-untyped-def]
        t = _tenant(context)
        self.s.calls.append("return")
        if self.s.fail_return:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected failure")
        with self.s.lock:
            r = self.s.reservations.get((t, request.reservation_id))
            if r is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "no such reservation")
            if r[0] in (R.RELEASED, R.EXPIRED, R.RETURNED):
                return R(reservation_id=request.reservation_id, status=r[0])
            status = R.RETURNED if r[0] == R.COMMITTED else R.RELEASED
            for pid, qty in r[1]:
                self.s.products[(t, pid)].stock += qty
            self.s.reservations[(t, request.reservation_id)] = (status, r[1])
        return R(reservation_id=request.reservation_id, status=status)


def serve_fake_catalog(state: FakeCatalogState) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(FakeCatalog(state), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0).wait()
