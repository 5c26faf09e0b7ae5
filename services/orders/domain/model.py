"""Order aggregate, order lines, the status state machine and audit records.

The aggregate is the only place that decides whether a transition is allowed; the repository only
persists what the aggregate decided, conditionally on ``version`` (optimistic concurrency).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.orders.domain.errors import InvalidArgument, InvalidTransition, MixedCurrencies


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


# The whole state machine. Anything not listed is rejected with FAILED_PRECONDITION.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
TERMINAL: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


class Placement(StrEnum):
    """Internal placement phase; only PLACED orders are visible to callers.

    RESERVING: the idempotency claim is written, stock is being reserved (not yet accepted).
    PLACED: the order is accepted; ``reservation_state`` tells whether catalog committed the stock.
    """

    RESERVING = "RESERVING"
    PLACED = "PLACED"


class ReservationState(StrEnum):
    """Where the order's stock is in catalog, as orders last recorded it (internal bookkeeping, not in the API).

    NONE: a claim; nothing reserved yet. RESERVED: catalog holds the stock (HELD), the commit is pending.
    COMMITTED: catalog committed it (sold). RETURNING: the order is cancelled and its stock, held or committed, is
    owed back to catalog: written by the same update as the cancel, so a crash or a catalog outage cannot lose the
    debt (the recovery sweep pays it), and so the committer's guarded RESERVED -> COMMITTED can no longer land on
    a cancelled order. RELEASED: catalog has the stock back from HELD (released, expired, or returned before the
    commit). RETURNED: catalog has the stock back from COMMITTED. RELEASED and RETURNED are final.
    """

    NONE = "NONE"
    RESERVED = "RESERVED"
    COMMITTED = "COMMITTED"
    RETURNING = "RETURNING"
    RELEASED = "RELEASED"
    RETURNED = "RETURNED"


# The states in which catalog still takes stock for the order: a cancel owes that stock back.
STOCK_TAKEN: frozenset[ReservationState] = frozenset({ReservationState.RESERVED, ReservationState.COMMITTED})


MAX_LINES = 50
MAX_QUANTITY = 1000
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_KEY_RE = re.compile(r"^[\x21-\x7e]{8,128}$")  # printable ASCII, no spaces: UUIDs, ULIDs, hashes
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def check_id(kind: str, value: str) -> str:
    if not _ID_RE.fullmatch(value or ""):
        raise InvalidArgument(f"{kind} is malformed: expected 1-128 characters of [A-Za-z0-9._:-]")
    return value


def check_idempotency_key(value: str) -> str:
    if not _KEY_RE.fullmatch(value or ""):
        raise InvalidArgument("idempotency_key is required: 8-128 printable ASCII characters without spaces")
    return value


@dataclass(frozen=True)
class LineRequest:
    """What the client may say about a line: which product and how many. Never a price."""

    product_id: str
    quantity: int


def validate_lines(lines: list[LineRequest]) -> list[LineRequest]:
    """Reject bad lines and merge duplicates so the fingerprint does not depend on line order."""
    if not lines:
        raise InvalidArgument("an order needs at least one line")
    if len(lines) > MAX_LINES:
        raise InvalidArgument(f"an order may have at most {MAX_LINES} lines")
    merged: dict[str, int] = {}
    for line in lines:
        check_id("product_id", line.product_id)
        if line.quantity <= 0:
            raise InvalidArgument(f"quantity for product {line.product_id} must be positive, got {line.quantity}")
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
        if merged[line.product_id] > MAX_QUANTITY:
            raise InvalidArgument(f"quantity for product {line.product_id} exceeds {MAX_QUANTITY}")
    return [LineRequest(pid, qty) for pid, qty in sorted(merged.items())]


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price_minor: int  # from catalog at placement time
    currency: str

    @property
    def line_total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


@dataclass(frozen=True)
class AuditRecord:
    """One append-only audit entry: who moved which order from what to what, why, under which trace."""

    audit_id: str  # "<order_id>:<version>": deterministic, so re-inserting it is a no-op
    tenant_id: str
    order_id: str
    actor: str
    from_status: OrderStatus | None  # None for creation
    to_status: OrderStatus
    reason: str
    trace_id: str
    at: datetime
    version: int


@dataclass
class Order:
    order_id: str
    tenant_id: str
    user_id: str
    idempotency_key: str
    request_fingerprint: str
    lines: list[OrderLine]
    currency: str
    status: OrderStatus
    version: int
    created_at: datetime
    updated_at: datetime
    placement: Placement = Placement.RESERVING
    reservation_id: str = ""
    reservation_state: ReservationState = ReservationState.NONE
    shipping_address: dict[str, str] = field(default_factory=dict)
    # Audit entries decided by the aggregate and not yet written by the unit of work.
    pending_audit: list[AuditRecord] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        return sum(line.line_total_minor for line in self.lines)

    @classmethod
    def claim(
        cls,
        *,
        order_id: str,
        tenant_id: str,
        user_id: str,
        idempotency_key: str,
        request_fingerprint: str,
        lines: list[LineRequest],
        now: datetime,
        actor: str,
        trace_id: str,
        shipping_address: dict[str, str] | None = None,
    ) -> Order:
        """The order as first written (placement RESERVING): the requested lines, not priced yet.

        Catalog prices them in the same call that reserves their stock (see :meth:`apply_prices`); the claim
        exists first so that the idempotency key is decided before anything is reserved.
        """
        if not lines:
            raise InvalidArgument("an order needs at least one line")
        order = cls(
            order_id=order_id,
            tenant_id=tenant_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            lines=[OrderLine(li.product_id, "", "", li.quantity, 0, "") for li in lines],
            currency="",
            status=OrderStatus.PENDING,
            version=1,
            created_at=now,
            updated_at=now,
            reservation_id=order_id,
            shipping_address=dict(shipping_address or {}),
        )
        order.pending_audit.append(
            AuditRecord(
                audit_id=f"{order_id}:1",
                tenant_id=tenant_id,
                order_id=order_id,
                actor=actor,
                from_status=None,
                to_status=OrderStatus.PENDING,
                reason="order placed",
                trace_id=trace_id,
                at=now,
                version=1,
            )
        )
        return order

    def apply_prices(self, priced: list[OrderLine], requested_currency: str = "") -> None:
        """Price the claimed lines from catalog's answer: the same products and quantities, one currency."""
        wanted = {(li.product_id, li.quantity) for li in self.lines}
        if {(li.product_id, li.quantity) for li in priced} != wanted or len(priced) != len(self.lines):
            raise InvalidArgument("catalog priced other products or quantities than the order holds")
        currencies = {line.currency for line in priced}
        if len(currencies) != 1:
            raise MixedCurrencies(
                "all products of one order must be priced in the same currency",
                metadata={"currencies": ",".join(sorted(currencies))},
            )
        currency = currencies.pop()
        if not _CURRENCY_RE.fullmatch(currency):
            raise InvalidArgument(f"catalog returned an invalid currency {currency!r}")
        if requested_currency and requested_currency != currency:
            raise InvalidArgument(f"currency {requested_currency} does not match the price currency {currency}")
        self.lines = sorted(priced, key=lambda li: li.product_id)
        self.currency = currency

    @classmethod
    def create(
        cls,
        *,
        order_id: str,
        tenant_id: str,
        user_id: str,
        idempotency_key: str,
        request_fingerprint: str,
        lines: list[OrderLine],
        now: datetime,
        actor: str,
        trace_id: str,
        shipping_address: dict[str, str] | None = None,
    ) -> Order:
        """A priced order in one step (claim + prices): what tests and tools start from."""
        order = cls.claim(
            order_id=order_id,
            tenant_id=tenant_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            lines=[LineRequest(li.product_id, li.quantity) for li in lines],
            now=now,
            actor=actor,
            trace_id=trace_id,
            shipping_address=shipping_address,
        )
        order.apply_prices(lines)
        return order

    def can_transition(self, to: OrderStatus) -> bool:
        return to in TRANSITIONS[self.status]

    def transition(self, to: OrderStatus, *, actor: str, reason: str, trace_id: str, now: datetime) -> AuditRecord:
        if not self.can_transition(to):
            allowed = ", ".join(sorted(TRANSITIONS[self.status])) or "none (terminal state)"
            raise InvalidTransition(f"order {self.order_id} cannot go from {self.status} to {to}; allowed: {allowed}")
        record = AuditRecord(
            audit_id=f"{self.order_id}:{self.version + 1}",
            tenant_id=self.tenant_id,
            order_id=self.order_id,
            actor=actor,
            from_status=self.status,
            to_status=to,
            reason=reason,
            trace_id=trace_id,
            at=now,
            version=self.version + 1,
        )
        self.status = to
        self.version += 1
        self.updated_at = now
        if to == OrderStatus.CANCELLED and self.reservation_state in STOCK_TAKEN:
            # Cancelled goods were never shipped (SHIPPED and DELIVERED cannot be cancelled): their stock goes back,
            # held or committed. The debt is recorded with the cancel itself; the service pays it (ReturnReservation).
            self.reservation_state = ReservationState.RETURNING
        self.pending_audit.append(record)
        return record
