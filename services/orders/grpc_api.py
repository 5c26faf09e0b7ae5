"""gRPC edge of orders: shop.orders.v1 messages <-> domain, domain errors -> status codes and reasons.

Domain errors are re-raised as services.common errors, which the common ObservabilityInterceptor turns into
the status code (and counts); so no handler calls ``context.abort`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common import errors as common_errors
from services.common import tenancy, tracing
from services.orders.domain import errors as dom
from services.orders.domain.model import AuditRecord, LineRequest, Order, OrderStatus
from services.orders.identity import Caller, caller_from_metadata
from services.orders.service import OrdersService, PlaceOrderCommand
from services.protos.gen.shop.common.v1 import common_pb2
from services.protos.gen.shop.orders.v1 import orders_pb2, orders_pb2_grpc

T = TypeVar("T")

_CODES: dict[type[dom.OrderError], grpc.StatusCode] = {
    dom.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    dom.NotFound: grpc.StatusCode.NOT_FOUND,
    dom.IdempotencyConflict: grpc.StatusCode.ALREADY_EXISTS,
    dom.InvalidTransition: grpc.StatusCode.FAILED_PRECONDITION,
    dom.ConcurrencyConflict: grpc.StatusCode.ABORTED,
    dom.OutOfStock: grpc.StatusCode.FAILED_PRECONDITION,
    dom.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    dom.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    dom.DependencyUnavailable: grpc.StatusCode.UNAVAILABLE,
    dom.PlacementInProgress: grpc.StatusCode.ABORTED,
}
# Why, for programs (services/common/errors.py Reason): sent with the code as the status's ErrorInfo. An error that
# carries a reason of its own (catalog's, passed on) sends that one instead.
_REASONS: dict[type[dom.OrderError], common_errors.Reason] = {
    dom.UnknownProducts: common_errors.Reason.UNKNOWN_PRODUCT,
    dom.MixedCurrencies: common_errors.Reason.MIXED_CURRENCIES,
    dom.OutOfStock: common_errors.Reason.OUT_OF_STOCK,
    dom.IdempotencyConflict: common_errors.Reason.IDEMPOTENCY_KEY_REUSED,
}
_STATUS_TO_PB = {s: orders_pb2.OrderStatus.Value(s.value) for s in OrderStatus}
_ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
# Trailing metadata of PlaceOrder when the idempotency key was already used with the same request.
REPLAYED_METADATA = "x-idempotent-replayed"


def status_code_for(exc: dom.OrderError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def reason_for(exc: dom.OrderError) -> str | None:
    if exc.reason:
        return exc.reason
    if isinstance(exc, dom.DependencyUnavailable):
        # Only an outage behind orders (catalog): orders' own (its store) is orders failing, told by the code alone.
        return common_errors.Reason.DEPENDENCY_UNAVAILABLE if exc.dependency else None
    for cls in type(exc).__mro__:
        if cls in _REASONS:
            return _REASONS[cls]
    return None


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except dom.OrderError as exc:
        raise common_errors.ShopError(
            exc.message, status_code_for(exc), reason=reason_for(exc), metadata=exc.metadata
        ) from exc


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def order_to_pb(o: Order) -> orders_pb2.Order:
    return orders_pb2.Order(
        id=o.order_id,
        tenant_id=o.tenant_id,
        user_id=o.user_id,
        status=_STATUS_TO_PB[o.status],
        items=[
            orders_pb2.OrderItem(
                product_id=li.product_id,
                sku=li.sku,
                name=li.name,
                quantity=li.quantity,
                unit_price=common_pb2.Money(units_minor=li.unit_price_minor, currency=li.currency),
                line_total=common_pb2.Money(units_minor=li.line_total_minor, currency=li.currency),
            )
            for li in o.lines
        ],
        total=common_pb2.Money(units_minor=o.total_minor, currency=o.currency),
        shipping_address=common_pb2.Address(**{k: v for k, v in o.shipping_address.items() if k in _ADDRESS_FIELDS}),
        version=o.version,
        idempotency_key=o.idempotency_key,
        reservation_id=o.reservation_id,
        created_at=_ts(o.created_at),
        updated_at=_ts(o.updated_at),
    )


def audit_to_pb(r: AuditRecord) -> orders_pb2.AuditRecord:
    return orders_pb2.AuditRecord(
        id=r.audit_id,
        tenant_id=r.tenant_id,
        order_id=r.order_id,
        actor=r.actor,
        from_status=_STATUS_TO_PB[r.from_status] if r.from_status else orders_pb2.ORDER_STATUS_UNSPECIFIED,
        to_status=_STATUS_TO_PB[r.to_status],
        reason=r.reason,
        trace_id=r.trace_id,
        order_version=r.version,
        at=_ts(r.at),
    )


def _status_from_pb(value: int) -> OrderStatus:
    if value == orders_pb2.ORDER_STATUS_UNSPECIFIED or value not in orders_pb2.OrderStatus.values():
        raise dom.InvalidArgument("status is required: one of CONFIRMED, SHIPPED, DELIVERED, CANCELLED")
    return OrderStatus(orders_pb2.OrderStatus.Name(value))


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self, service: OrdersService) -> None:
        self.service = service

    @staticmethod
    def _caller(context: grpc.ServicerContext) -> Caller:
        caller = caller_from_metadata(context.invocation_metadata() or (), tracing.current_trace_id())
        # The TenantInterceptor already validated x-tenant-id; both must agree (defence in depth).
        tenant = tenancy.tenant_or_none()
        if tenant is not None and tenant != caller.tenant_id:
            raise dom.InvalidArgument("x-tenant-id is ambiguous")
        return caller

    def PlaceOrder(self, request: orders_pb2.PlaceOrderRequest, context: grpc.ServicerContext) -> orders_pb2.Order:
        def call() -> orders_pb2.Order:
            cmd = PlaceOrderCommand(
                idempotency_key=request.idempotency_key,
                user_id=request.user_id,
                items=[LineRequest(i.product_id, int(i.quantity)) for i in request.items],
                currency=request.currency,
                shipping_address={f: getattr(request.shipping_address, f) for f in _ADDRESS_FIELDS},
            )
            order, replayed = self.service.place(self._caller(context), cmd)
            if replayed:
                # Lets a caller without its own idempotency record (the gateway while Redis is down) answer
                # "already placed" (200) instead of "created" (201).
                context.set_trailing_metadata(((REPLAYED_METADATA, "true"),))
            return order_to_pb(order)

        return _run(call)

    def GetOrder(self, request: orders_pb2.GetOrderRequest, context: grpc.ServicerContext) -> orders_pb2.Order:
        return _run(
            lambda: order_to_pb(self.service.get_order(self._caller(context), request.order_id, request.user_id))
        )

    def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: grpc.ServicerContext
    ) -> orders_pb2.ListOrdersResponse:
        def call() -> orders_pb2.ListOrdersResponse:
            orders, token = self.service.list_orders(
                self._caller(context), request.user_id, request.page_size, request.page_token
            )
            return orders_pb2.ListOrdersResponse(orders=[order_to_pb(o) for o in orders], next_page_token=token)

        return _run(call)

    def UpdateOrderStatus(
        self, request: orders_pb2.UpdateOrderStatusRequest, context: grpc.ServicerContext
    ) -> orders_pb2.Order:
        def call() -> orders_pb2.Order:
            to = _status_from_pb(request.status)
            order = self.service.update_status(
                self._caller(context), request.order_id, to, request.expected_version, request.reason
            )
            return order_to_pb(order)

        return _run(call)

    def CancelOrder(self, request: orders_pb2.CancelOrderRequest, context: grpc.ServicerContext) -> orders_pb2.Order:
        def call() -> orders_pb2.Order:
            order = self.service.cancel_order(
                self._caller(context), request.order_id, request.expected_version, request.reason, request.user_id
            )
            return order_to_pb(order)

        return _run(call)

    def ListOrderAudit(
        self, request: orders_pb2.ListOrderAuditRequest, context: grpc.ServicerContext
    ) -> orders_pb2.ListOrderAuditResponse:
        def call() -> orders_pb2.ListOrderAuditResponse:
            records = self.service.audit(self._caller(context), request.order_id)
            return orders_pb2.ListOrderAuditResponse(records=[audit_to_pb(r) for r in records])

        return _run(call)


def register(service: OrdersService) -> Callable[[grpc.Server], list[str]]:
    def _register(server: grpc.Server) -> list[str]:
        orders_pb2_grpc.add_OrdersServiceServicer_to_server(OrdersServicer(service), server)  # type: ignore[no-untyped-call]
        return [orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name]

    return _register
