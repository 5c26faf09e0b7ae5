"""Errors that handlers raise and the server interceptor turns into gRPC status codes, plus input validation.

Handlers never call ``context.abort`` themselves for domain errors: raising keeps the domain code free of gRPC
and lets one place map, count and log errors. Every validation message names the offending field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sized

import grpc


class ShopError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


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
