"""Errors that handlers raise and the server interceptor turns into gRPC status codes, plus input validation.

Handlers never call ``context.abort`` themselves for domain errors: raising keeps the domain code free of gRPC
and lets one place map, count and log errors. Every validation message names the offending field. An error may
carry a ``Reason`` (why, for programs: sent as a google.rpc.ErrorInfo with the status) next to its message (for
people).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sized
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# -- why a request was refused, machine-readable -------------------------------------------------------------

# The domain of every ErrorInfo our services send: a reason is only trusted when it comes with this domain.
ERROR_DOMAIN = "eks-shop.dev"


class Reason(StrEnum):
    """Why a service refused a request: ``google.rpc.ErrorInfo.reason`` on the status, domain ``ERROR_DOMAIN``.

    Callers decide on the reason (with its metadata), never on the message text: the message is written for
    people and may be reworded at any time. A refusal without a reason is mapped by its gRPC code alone.

    ============================ ===================== ==================================================
    reason                       with code             sent by; metadata
    ============================ ===================== ==================================================
    ``UNKNOWN_PRODUCT``          NOT_FOUND             catalog ReserveStock, passed on by orders PlaceOrder:
                                                       a requested product is not sold; ``product_ids``
                                                       (comma-separated)
    ``OUT_OF_STOCK``             FAILED_PRECONDITION   catalog ReserveStock, passed on by orders PlaceOrder:
                                                       ``product_id``, ``requested``, ``available``
    ``MIXED_CURRENCIES``         INVALID_ARGUMENT      orders PlaceOrder: the products are priced in more
                                                       than one currency; ``currencies`` (comma-separated)
    ``IDEMPOTENCY_KEY_REUSED``   ALREADY_EXISTS        orders PlaceOrder: the idempotency key was used for
                                                       another request
    ``DEPENDENCY_UNAVAILABLE``   UNAVAILABLE           a service BEHIND the one answering is down (orders
                                                       PlaceOrder while catalog is); ``dependency`` names it
                                                       (``catalog``). The one answering is healthy: retry
                                                       later, with the same idempotency key
    ============================ ===================== ==================================================
    """

    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    MIXED_CURRENCIES = "MIXED_CURRENCIES"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    DEPENDENCY_UNAVAILABLE = "DEPENDENCY_UNAVAILABLE"


@dataclass(frozen=True)
class ErrorReason:
    """The ErrorInfo of a refusal as received: ``reason`` may be one this version does not know (a newer peer)."""

    reason: str
    metadata: Mapping[str, str] = field(default_factory=dict)


# Why the rich status (google.rpc.Status in the ``grpc-status-details-bin`` trailer) rather than a trailer of our
# own such as ``x-error-reason``: it is the standard place for it, so any gRPC client, grpcurl and proxies read it;
# ErrorInfo carries the metadata (which dependency) in the same message; it travels with the code and message it
# was sent with (``rpc_status.from_call`` refuses details whose code or message differ, e.g. after a proxy rewrote
# the status); and it never mixes with the trailers of successful calls (orders' x-idempotent-replayed).
def status_with_reason(
    code: grpc.StatusCode, message: str, reason: str, metadata: Mapping[str, str] | None = None
) -> grpc.Status:
    """The status to abort with (``context.abort_with_status``): ``code`` and ``message`` plus an ErrorInfo."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=dict(metadata or {})))
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=[detail]))


def reason_of(error: Any) -> ErrorReason | None:
    """The ErrorInfo of our domain on a failed call (a sync ``grpc.RpcError`` or a ``grpc.aio.AioRpcError``).

    None when the peer sent none (an older peer, a proxy, the channel itself): the caller then maps by code.
    """
    try:
        status = rpc_status.from_call(error)
    except (ValueError, AttributeError):  # details not of this status, or not a call at all
        return None
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN and info.reason:
                return ErrorReason(info.reason, dict(info.metadata))
    return None


# -- errors handlers raise -----------------------------------------------------------------------------------


class ShopError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    # Sent as the status's ErrorInfo when set (see Reason); a subclass or the instance may set it.
    reason: str | None = None

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | None = None,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(ShopError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFound(ShopError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ShopError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ShopError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ShopError):
    code = grpc.StatusCode.ABORTED


class PermissionDenied(ShopError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ShopError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(ShopError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ShopError):
    code = grpc.StatusCode.UNAVAILABLE


_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def require_uuid(value: str, field: str) -> uuid.UUID:
    if not value:
        raise InvalidArgument(field, "is required")
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(field, f"must be a UUID, got {value[:64]!r}") from None
    return parsed


def require_text(value: str, field: str, *, max_len: int, min_len: int = 1) -> str:
    value = value.strip()
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: refused here, it would fail the query as INTERNAL
        raise InvalidArgument(field, "must not contain NUL characters")
    if len(value) < min_len:
        raise InvalidArgument(field, "is required" if min_len == 1 and not value else f"needs {min_len}+ chars")
    if len(value) > max_len:
        raise InvalidArgument(field, f"must be at most {max_len} characters, got {len(value)}")
    return value


def require_positive(value: int, field: str, *, maximum: int | None = None) -> int:
    if value <= 0:
        raise InvalidArgument(field, f"must be greater than 0, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(field, f"must be at most {maximum}, got {value}")
    return value


def require_non_negative(value: int, field: str) -> int:
    if value < 0:
        raise InvalidArgument(field, f"must not be negative, got {value}")
    return value


def require_currency(value: str, field: str) -> str:
    if not _CURRENCY_RE.match(value):
        raise InvalidArgument(field, f"must be an ISO 4217 code of three upper-case letters, got {value[:16]!r}")
    return value


def require_email(value: str, field: str) -> str:
    value = value.strip().lower()
    if "\x00" in value or len(value) > 254 or not _EMAIL_RE.match(value):
        raise InvalidArgument(field, "must be an e-mail address")
    return value


def page_size(value: int, field: str = "page_size") -> int:
    """0 means the default; negative or above MAX_PAGE_SIZE is refused rather than silently clamped."""
    if value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0 or value > MAX_PAGE_SIZE:
        raise InvalidArgument(field, f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def require_count(items: Sized, field: str, *, maximum: int, minimum: int = 1) -> None:
    if len(items) < minimum:
        raise InvalidArgument(field, f"needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}")
    if len(items) > maximum:
        raise InvalidArgument(field, f"must have at most {maximum} entries, got {len(items)}")
