"""What orders needs from catalog, as a port (Protocol) with a gRPC adapter.

The service layer depends only on ``CatalogPort``; tests may substitute an in-process fake, the
acceptance tests use the real catalog over gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import grpc

from services.common.errors import reason_of
from services.orders.domain.errors import DependencyUnavailable, InvalidArgument, OutOfStock, UnknownProducts
from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc

TENANT_METADATA = "x-tenant-id"
CATALOG = "catalog"  # the dependency named by the DEPENDENCY_UNAVAILABLE reason when catalog cannot be reached


@dataclass(frozen=True)
class ProductInfo:
    product_id: str
    sku: str
    name: str
    unit_price_minor: int
    currency: str


class ReservationGone(Exception):
    """Catalog no longer holds the reservation as HELD (it was committed): it cannot be released.

    Only :meth:`CatalogPort.release` (a placement's compensation) raises it: a cancelled order gives its stock back
    with :meth:`CatalogPort.return_reservation`, which takes committed stock too.
    """


class CatalogPort(Protocol):
    def reserve(self, tenant_id: str, reservation_id: str, items: list[tuple[str, int]]) -> dict[str, ProductInfo]:
        """Take the stock of every item (or none) and return each product as it was when its stock was taken."""
        ...

    def commit_many(self, tenant_id: str, reservation_ids: list[str]) -> tuple[set[str], dict[str, str]]:
        """Commit a batch: (committed ids, {id: why not} for those catalog no longer holds)."""
        ...

    def release(self, tenant_id: str, reservation_id: str) -> None:
        """Give back HELD stock (a placement that was never accepted); ReservationGone if it was committed."""
        ...

    def return_reservation(self, tenant_id: str, reservation_id: str) -> str:
        """Give back a cancelled order's stock, held or committed (exactly once, retries are safe).

        Returns catalog's status of the reservation afterwards: RELEASED (the stock came back from held, now or
        before), EXPIRED (it came back when its hold ended), RETURNED (it came back from committed), or "" when
        catalog never had the reservation (nothing to give back).
        """
        ...


# Retrying is safe for every call here: the reservation RPCs are idempotent on
# reservation_id (see the catalog contract), so a lost response can be replayed.
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


class GrpcCatalog:
    """CatalogPort over shop.catalog.v1 with per-call deadlines and a small retry on transient errors."""

    def __init__(self, channel: grpc.Channel, *, timeout: float = 3.0, attempts: int = 3) -> None:
        self._stub = catalog_pb2_grpc.CatalogServiceStub(channel)  # type: ignore[no-untyped-call]
        self._timeout = timeout
        self._attempts = attempts

    def _call(self, name: str, request: object, tenant_id: str) -> object:
        method = getattr(self._stub, name)
        last: grpc.RpcError | None = None
        for _ in range(self._attempts):
            try:
                return method(request, timeout=self._timeout, metadata=((TENANT_METADATA, tenant_id),))
            except grpc.RpcError as exc:
                last = exc
                if exc.code() not in _TRANSIENT:
                    raise
        assert last is not None
        raise DependencyUnavailable(f"catalog unavailable for {name}: {last.code().name}", dependency=CATALOG) from last

    def reserve(self, tenant_id: str, reservation_id: str, items: list[tuple[str, int]]) -> dict[str, ProductInfo]:
        req = catalog_pb2.ReserveStockRequest(
            reservation_id=reservation_id,
            items=[catalog_pb2.ReservationItem(product_id=p, quantity=q) for p, q in items],
        )
        try:
            resp = self._call("ReserveStock", req, tenant_id)
        except grpc.RpcError as exc:
            # Catalog's contract says what each code of ReserveStock means; its reason (OUT_OF_STOCK,
            # UNKNOWN_PRODUCT, with their metadata) is passed on as it came, the class's own reason otherwise.
            why = reason_of(exc)
            reason, metadata = (why.reason, why.metadata) if why is not None else (None, None)
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise OutOfStock(f"not enough stock: {exc.details()}", reason=reason, metadata=metadata) from exc
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                details = exc.details() or "unknown product(s)"  # "unknown product(s): <ids>"
                raise UnknownProducts(details, reason=reason, metadata=metadata) from exc
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"catalog rejected the reservation: {exc.details()}") from exc
            raise DependencyUnavailable(f"catalog ReserveStock failed: {exc.code().name}", dependency=CATALOG) from exc
        assert isinstance(resp, catalog_pb2.Reservation)
        return {
            p.product_id: ProductInfo(p.product_id, p.sku, p.name, int(p.unit_price.units_minor), p.unit_price.currency)
            for p in resp.priced_items
        }

    def commit_many(self, tenant_id: str, reservation_ids: list[str]) -> tuple[set[str], dict[str, str]]:
        try:
            resp = self._call(
                "CommitReservations", catalog_pb2.CommitReservationsRequest(reservation_ids=reservation_ids), tenant_id
            )
        except grpc.RpcError as exc:
            raise DependencyUnavailable(
                f"catalog CommitReservations failed: {exc.code().name}", dependency=CATALOG
            ) from exc
        assert isinstance(resp, catalog_pb2.CommitReservationsResponse)
        return set(resp.committed), {f.reservation_id: f.detail for f in resp.failed}

    def release(self, tenant_id: str, reservation_id: str) -> None:
        try:
            self._call(
                "ReleaseReservation",
                catalog_pb2.ReleaseReservationRequest(reservation_id=reservation_id),
                tenant_id,
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return  # never reserved (crash before ReserveStock): nothing to give back
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise ReservationGone(exc.details() or "reservation already committed") from exc
            raise DependencyUnavailable(
                f"catalog ReleaseReservation failed: {exc.code().name}", dependency=CATALOG
            ) from exc

    def return_reservation(self, tenant_id: str, reservation_id: str) -> str:
        try:
            resp = self._call(
                "ReturnReservation",
                catalog_pb2.ReturnReservationRequest(reservation_id=reservation_id),
                tenant_id,
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return ""  # never reserved: nothing to give back
            raise DependencyUnavailable(
                f"catalog ReturnReservation failed: {exc.code().name}", dependency=CATALOG
            ) from exc
        assert isinstance(resp, catalog_pb2.Reservation)
        return str(catalog_pb2.Reservation.Status.Name(resp.status))
