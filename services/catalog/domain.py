"""Catalog domain types and input rules, free of SQL and gRPC so they can be unit-tested directly."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.common import errors

MAX_RESERVATION_ITEMS = 100
MAX_QUANTITY = 1_000_000
DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 3600
MAX_BATCH_IDS = 100
MAX_COMMIT_BATCH = 500
MAX_SEARCH_QUERY = 200


@dataclass(frozen=True)
class Product:
    id: uuid.UUID
    sku: str
    name: str
    description: str
    price_minor: int
    currency: str
    category: str
    stock_available: int
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ReservedProduct:
    """A reserved product as ReserveStock read it while taking the stock: the caller prices its lines from it."""

    product_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    price_minor: int
    currency: str


# Reservation states (migrations/0003 lists where each one's stock is). RELEASED, EXPIRED and RETURNED are final:
# the stock came back to available once and nothing moves it again.
HELD, COMMITTED, RELEASED, EXPIRED, RETURNED = "HELD", "COMMITTED", "RELEASED", "EXPIRED", "RETURNED"
GIVEN_BACK = frozenset({RELEASED, EXPIRED, RETURNED})


@dataclass(frozen=True)
class Reservation:
    id: uuid.UUID
    status: str  # HELD, COMMITTED, RELEASED, EXPIRED, RETURNED
    items: tuple[tuple[uuid.UUID, int], ...]
    expires_at: datetime
    priced_items: tuple[ReservedProduct, ...] = ()  # ReserveStock's answer only


@dataclass(frozen=True)
class CommitFailure:
    """A reservation CommitReservations could not commit: ``status`` None when it does not exist."""

    reservation_id: uuid.UUID
    status: str | None  # RELEASED, EXPIRED, RETURNED, or HELD past its expiry

    def error(self) -> errors.ShopError:
        if self.status is None:
            return errors.NotFound(f"reservation {self.reservation_id} not found")
        if self.status == "HELD":
            return errors.FailedPrecondition(f"reservation {self.reservation_id} has expired")
        return errors.FailedPrecondition(f"reservation {self.reservation_id} is {self.status}, not HELD")


@dataclass(frozen=True)
class NewProduct:
    sku: str
    name: str
    description: str
    price_minor: int
    currency: str
    category: str
    initial_stock: int


def validate_new_product(
    sku: str, name: str, description: str, price_minor: int, currency: str, category: str, initial_stock: int
) -> NewProduct:
    return NewProduct(
        sku=errors.require_text(sku, "sku", max_len=64),
        name=errors.require_text(name, "name", max_len=200),
        description=errors.require_text(description, "description", max_len=5000, min_len=0),
        price_minor=errors.require_non_negative(price_minor, "price.units_minor"),
        currency=errors.require_currency(currency, "price.currency"),
        category=errors.require_text(category, "category", max_len=100, min_len=0),
        initial_stock=errors.require_non_negative(initial_stock, "initial_stock"),
    )


def validate_reservation_items(items: list[tuple[str, int]]) -> tuple[tuple[uuid.UUID, int], ...]:
    """Validated (product_id, quantity) pairs sorted by product id.

    Sorting fixes the order in which rows are locked, so two multi-item reservations can never deadlock.
    Duplicated products are refused rather than merged: the caller's intent would be ambiguous.
    """
    errors.require_count(items, "items", maximum=MAX_RESERVATION_ITEMS)
    seen: dict[uuid.UUID, int] = {}
    for i, (product_id, quantity) in enumerate(items):
        pid = errors.require_uuid(product_id, f"items[{i}].product_id")
        errors.require_positive(quantity, f"items[{i}].quantity", maximum=MAX_QUANTITY)
        if pid in seen:
            raise errors.InvalidArgument(f"items[{i}].product_id", f"duplicates items[{seen[pid]}]")
        seen[pid] = i
    return tuple(sorted(((errors.require_uuid(p, "product_id"), q) for p, q in items), key=lambda x: x[0]))


def reservation_ttl(ttl_seconds: int) -> int:
    if ttl_seconds == 0:
        return DEFAULT_TTL_SECONDS
    return errors.require_positive(ttl_seconds, "ttl_seconds", maximum=MAX_TTL_SECONDS)


def request_hash(items: tuple[tuple[uuid.UUID, int], ...]) -> str:
    """Fingerprint of a reservation request, to tell an idempotent retry from a conflicting reuse of the id."""
    body = json.dumps([[str(p), q] for p, q in items], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def search_query(text: str) -> str:
    return errors.require_text(text, "query", max_len=MAX_SEARCH_QUERY)
