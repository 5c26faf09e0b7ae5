"""gRPC handlers: validate at the edge, call the repository, convert to protobuf. No SQL here."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.catalog import domain
from services.catalog.events import ChangeEvent, ChangeFeed, drain, merge
from services.catalog.repository import CatalogRepository
from services.catalog.seed import seed_demo_catalog
from services.common import errors, tenancy
from services.common.auth import require_admin
from services.common.pagination import PageTokens
from services.common.settings import Secrets
from services.protos.gen.shop.catalog.v1 import catalog_pb2 as pb
from services.protos.gen.shop.catalog.v1 import catalog_pb2_grpc
from services.protos.gen.shop.common.v1 import common_pb2

# Longest a change event is held so that the changes following it are sent with it (WatchProductChanges).
COALESCE_S = 0.1


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def product_pb(p: domain.Product) -> pb.Product:
    return pb.Product(
        id=str(p.id),
        sku=p.sku,
        name=p.name,
        description=p.description,
        price=common_pb2.Money(units_minor=p.price_minor, currency=p.currency),
        category=p.category,
        stock_available=p.stock_available,
        version=p.version,
        created_at=_ts(p.created_at),
        updated_at=_ts(p.updated_at),
    )


def reservation_pb(r: domain.Reservation) -> pb.Reservation:
    return pb.Reservation(
        reservation_id=str(r.id),
        status=pb.Reservation.Status.Value(r.status),
        items=[pb.ReservationItem(product_id=str(p), quantity=q) for p, q in r.items],
        expires_at=_ts(r.expires_at),
        priced_items=[
            pb.ReservedProduct(
                product_id=str(i.product_id),
                sku=i.sku,
                name=i.name,
                quantity=i.quantity,
                unit_price=common_pb2.Money(units_minor=i.price_minor, currency=i.currency),
            )
            for i in r.priced_items
        ],
    )


def event_pb(e: ChangeEvent) -> pb.ProductChangeEvent:
    return pb.ProductChangeEvent(
        tenant_id=e.tenant_id,
        product_id=e.product_id,
        kind=pb.ProductChangeEvent.Kind.Value(e.kind),
        version=e.version,
        at=_ts(e.at),
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, repo: CatalogRepository, feed: ChangeFeed | None, secrets: Secrets) -> None:
        self.repo = repo
        self.feed = feed
        self.secrets = secrets
        self.tokens = PageTokens(secrets)

    # -- reads ---------------------------------------------------------------------------------------------

    def ListProducts(self, request: pb.ListProductsRequest, context: grpc.ServicerContext) -> pb.ListProductsResponse:
        size = errors.page_size(request.page_size)
        category = errors.require_text(request.category, "category", max_len=100, min_len=0)
        scope = f"{tenancy.current_tenant()}:list:{category}"
        after = None
        if request.page_token:
            cursor = self.tokens.decode(scope, request.page_token)
            after = str(cursor.get("sku", ""))
        rows = self.repo.list_products(size + 1, after, category or None)
        token = self.tokens.encode(scope, {"sku": rows[size - 1].sku}) if len(rows) > size else ""
        return pb.ListProductsResponse(products=[product_pb(p) for p in rows[:size]], next_page_token=token)

    def GetProduct(self, request: pb.GetProductRequest, context: grpc.ServicerContext) -> pb.Product:
        return product_pb(self.repo.get_product(errors.require_uuid(request.product_id, "product_id")))

    def SearchProducts(
        self, request: pb.SearchProductsRequest, context: grpc.ServicerContext
    ) -> pb.ListProductsResponse:
        text = domain.search_query(request.query)
        size = errors.page_size(request.page_size)
        scope = f"{tenancy.current_tenant()}:search:{text}"
        after: tuple[float, str] | None = None
        if request.page_token:
            cursor = self.tokens.decode(scope, request.page_token)
            try:
                after = (float(cursor["r"]), str(errors.require_uuid(str(cursor["i"]), "page_token")))
            except (KeyError, TypeError, ValueError):
                raise errors.InvalidArgument("page_token", "is malformed") from None
        rows = self.repo.search(text, size + 1, after)
        token = ""
        if len(rows) > size:
            last, rank = rows[size - 1]
            token = self.tokens.encode(scope, {"r": rank, "i": str(last.id)})
        return pb.ListProductsResponse(products=[product_pb(p) for p, _ in rows[:size]], next_page_token=token)

    def BatchGetProducts(
        self, request: pb.BatchGetProductsRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetProductsResponse:
        errors.require_count(request.product_ids, "product_ids", maximum=domain.MAX_BATCH_IDS)
        ids = [errors.require_uuid(v, f"product_ids[{i}]") for i, v in enumerate(request.product_ids)]
        found = {p.id: p for p in self.repo.batch_get(list(dict.fromkeys(ids)))}
        return pb.BatchGetProductsResponse(
            products=[product_pb(found[i]) for i in dict.fromkeys(ids) if i in found],
            missing_product_ids=[str(i) for i in dict.fromkeys(ids) if i not in found],
        )

    # -- admin ---------------------------------------------------------------------------------------------

    def CreateProduct(self, request: pb.CreateProductRequest, context: grpc.ServicerContext) -> pb.Product:
        require_admin(context, self.secrets)
        if not request.HasField("price"):
            raise errors.InvalidArgument("price", "is required")
        new = domain.validate_new_product(
            request.sku,
            request.name,
            request.description,
            request.price.units_minor,
            request.price.currency,
            request.category,
            request.initial_stock,
        )
        return product_pb(self.repo.create_product(new))

    def UpdateProduct(self, request: pb.UpdateProductRequest, context: grpc.ServicerContext) -> pb.Product:
        require_admin(context, self.secrets)
        product_id = errors.require_uuid(request.product_id, "product_id")
        changes: dict[str, Any] = {}
        if request.HasField("name"):
            changes["name"] = errors.require_text(request.name, "name", max_len=200)
        if request.HasField("description"):
            changes["description"] = errors.require_text(request.description, "description", max_len=5000, min_len=0)
        if request.HasField("category"):
            changes["category"] = errors.require_text(request.category, "category", max_len=100, min_len=0)
        if request.HasField("price"):
            changes["price_minor"] = errors.require_non_negative(request.price.units_minor, "price.units_minor")
            changes["currency"] = errors.require_currency(request.price.currency, "price.currency")
        errors.require_non_negative(request.expected_version, "expected_version")
        return product_pb(self.repo.update_product(product_id, changes, request.expected_version))

    def AdjustStock(self, request: pb.AdjustStockRequest, context: grpc.ServicerContext) -> pb.Product:
        require_admin(context, self.secrets)
        product_id = errors.require_uuid(request.product_id, "product_id")
        if request.delta == 0:
            raise errors.InvalidArgument("delta", "must not be 0")
        return product_pb(self.repo.adjust_stock(product_id, request.delta))

    def SeedDemoCatalog(
        self, request: pb.SeedDemoCatalogRequest, context: grpc.ServicerContext
    ) -> pb.SeedDemoCatalogResponse:
        require_admin(context, self.secrets)
        return pb.SeedDemoCatalogResponse(created=seed_demo_catalog(self.repo, tenancy.current_tenant()))

    # -- reservations --------------------------------------------------------------------------------------

    def ReserveStock(self, request: pb.ReserveStockRequest, context: grpc.ServicerContext) -> pb.Reservation:
        reservation_id = errors.require_uuid(request.reservation_id, "reservation_id")
        items = domain.validate_reservation_items([(i.product_id, i.quantity) for i in request.items])
        ttl = domain.reservation_ttl(request.ttl_seconds)
        return reservation_pb(self.repo.reserve(reservation_id, items, ttl))

    def CommitReservation(self, request: pb.CommitReservationRequest, context: grpc.ServicerContext) -> pb.Reservation:
        return reservation_pb(self.repo.commit(errors.require_uuid(request.reservation_id, "reservation_id")))

    def CommitReservations(
        self, request: pb.CommitReservationsRequest, context: grpc.ServicerContext
    ) -> pb.CommitReservationsResponse:
        errors.require_count(request.reservation_ids, "reservation_ids", maximum=domain.MAX_COMMIT_BATCH)
        ids = [errors.require_uuid(v, f"reservation_ids[{i}]") for i, v in enumerate(request.reservation_ids)]
        committed, failed = self.repo.commit_many(ids)
        return pb.CommitReservationsResponse(
            committed=[str(rid) for rid in committed],
            failed=[
                pb.CommitFailure(
                    reservation_id=str(f.reservation_id),
                    status=pb.Reservation.Status.Value(f.status) if f.status else pb.Reservation.STATUS_UNSPECIFIED,
                    detail=str(f.error()),
                )
                for f in failed
            ],
        )

    def ReleaseReservation(
        self, request: pb.ReleaseReservationRequest, context: grpc.ServicerContext
    ) -> pb.Reservation:
        return reservation_pb(self.repo.release(errors.require_uuid(request.reservation_id, "reservation_id")))

    def ReturnReservation(self, request: pb.ReturnReservationRequest, context: grpc.ServicerContext) -> pb.Reservation:
        # A cancelled order's stock, held or committed (see CatalogRepository.return_reservation for why this is not
        # ReleaseReservation).
        return reservation_pb(
            self.repo.return_reservation(errors.require_uuid(request.reservation_id, "reservation_id"))
        )

    # -- events --------------------------------------------------------------------------------------------

    def WatchProductChanges(
        self, request: pb.WatchProductChangesRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ProductChangeEvent]:
        if self.feed is None:
            raise errors.Unavailable("change events are not enabled on this replica")
        tenant = tenancy.current_tenant()
        q = self.feed.subscribe(tenant)
        try:
            # Whatever the client cached before this stream existed may be stale.
            yield event_pb(ChangeEvent(tenant, "", "RESYNC", 0))
            last_sent = time.monotonic()
            while context.is_active() and not self.feed.stopped:
                try:
                    event = q.get(timeout=0.5)
                except queue.Empty:
                    continue
                # A change after a quiet spell goes out at once; changes that follow within COALESCE_S are held
                # and sent as one (see events.merge). Under checkout load every order changes stock: one message
                # per order on every gateway's stream, each invalidating the tenant's whole cache, emptied the cache
                # as fast as it filled and cost more CPU than the order's own reservation.
                hold = COALESCE_S - (time.monotonic() - last_sent)
                if hold > 0:
                    time.sleep(hold)
                    event = merge([event, *drain(q)])
                yield event_pb(event)
                last_sent = time.monotonic()
        finally:
            self.feed.unsubscribe(tenant, q)
