"""Domain errors. Each maps to exactly one gRPC status code at the edge (see ``grpc_api``), and some to a reason.

The reason (services/common/errors.py ``Reason``, sent as the status's ErrorInfo) tells programs why a request
was refused; the message is for people. The edge derives it from the class (``grpc_api._REASONS``); an error
raised on behalf of catalog may instead carry catalog's own reason and metadata (``reason``, ``metadata``), which
the edge passes on.
"""

from __future__ import annotations

from collections.abc import Mapping


class OrderError(Exception):
    """Base class; ``message`` is safe to show to the caller (no internal details, no secrets)."""

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # None: the edge's reason for this class, if it has one
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(OrderError):
    """Malformed request: bad ids, quantities, page sizes."""


class MixedCurrencies(InvalidArgument):
    """The order's products are priced in more than one currency (an order has one)."""


class NotFound(OrderError):
    """Unknown order or product. Also used for other tenants' / users' orders so existence does not leak."""


class UnknownProducts(NotFound):
    """Catalog does not sell (to this tenant) a product of the order."""


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
    """The store or the catalog is unreachable; the caller may retry with the same idempotency key.

    ``dependency`` names the service behind orders that is down (``catalog``), so the caller can tell that outage
    from orders' own; empty when orders itself cannot serve (its store, a placement that timed out).
    """

    def __init__(self, message: str, *, dependency: str = "") -> None:
        super().__init__(message, metadata={"dependency": dependency} if dependency else None)
        self.dependency = dependency


class PlacementInProgress(OrderError):
    """Another request with the same idempotency key is still placing the order; retry shortly."""
