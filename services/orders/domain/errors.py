"""Domain errors. Each maps to exactly one gRPC status code at the edge (see ``grpc_errors``)."""

from __future__ import annotations


class OrderError(Exception):
    """Base class; ``message`` is safe to show to the caller (no internal details, no secrets)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(OrderError):
    """Malformed request: bad ids, quantities, page sizes."""


class NotFound(OrderError):
    """Unknown order or product. Also used for other tenants' / users' orders so existence does not leak."""


class IdempotencyConflict(OrderError):
    """The idempotency key was already used with a different request body."""


class InvalidTransition(OrderError):
    """The state machine forbids the requested transition."""


class ConcurrencyConflict(OrderError):
    """The order changed since it was read (optimistic concurrency on ``version``)."""


class OutOfStock(OrderError):
    """Catalog could not reserve the requested quantities."""


class PermissionDenied(OrderError):
    """The caller may not perform this operation (e.g. a customer shipping an order)."""


class Unauthenticated(OrderError):
    """No tenant / user identity in the request metadata."""


class DependencyUnavailable(OrderError):
    """The store or the catalog is unreachable; the caller may retry with the same idempotency key."""


class PlacementInProgress(OrderError):
    """Another request with the same idempotency key is still placing the order; retry shortly."""
