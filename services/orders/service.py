"""Application service: the use cases of orders, over the repository, unit of work and catalog port.

PlaceOrder, step by step (why this order: idempotency first, compensation for everything after it):

1. validate the request (ids, quantities, key); nothing is written for bad input;
2. insert the order as a RESERVING *claim* (the requested lines, unpriced): the unique index lets exactly one
   of N concurrent requests with the same key win. A loser looks up (tenant, user, idempotency_key): a PLACED
   order with the same fingerprint is returned as is (finishing its stock commit if a crash interrupted it),
   another fingerprint is ALREADY_EXISTS, a claim in progress is waited for (an empty currency and the currency
   the order is placed in are the same request: fingerprint.same_request);
3. ReserveStock in catalog with reservation_id = order id (idempotent there): it takes the stock and answers
   with each product's price, read by the same update; unknown products are NOT_FOUND, short stock
   FAILED_PRECONDITION. On failure, or prices the order cannot take (mixed currencies, not the currency asked
   for), release and delete the claim: nothing stays written;
4. mark the order PLACED with its priced lines (accepted: from here it is never deleted); on failure release
   the reservation and delete the claim (compensation);
5. after the answer, in batches (stock_committer.py): CommitReservations, then record reservation_state
   COMMITTED. An order left RESERVED (a crash, catalog down) is finished by a retry with the same key or by the
   recovery sweep; if catalog expired the reservation meanwhile, the sweep cancels
   the order with an audit reason rather than shipping stock nobody holds.

Cancel (a customer's PENDING order, or staff's PENDING or CONFIRMED one; SHIPPED and DELIVERED cannot be cancelled,
see domain/model.py TRANSITIONS) gives the order's stock back, held or committed: the commit follows placement by
~100 ms, so nearly every cancel meets COMMITTED stock, and committed is "sold", not "shipped".

1. the transition to CANCELLED records reservation_state RETURNING in the same conditional update (the stock is
   owed back: a crash or a catalog outage after it cannot lose that, and the committer's RESERVED -> COMMITTED,
   guarded on RESERVED, no longer lands on the order);
2. ReturnReservation in catalog: one call whatever catalog's state (HELD -> RELEASED, COMMITTED -> RETURNED),
   idempotent, exactly once (see CatalogRepository.return_reservation for why it is not ReleaseReservation);
3. record catalog's answer: RETURNING -> RELEASED or RETURNED. If step 2 or 3 fails, the cancel still stands and the
   recovery sweep repeats them for RETURNING orders.

The race with the committer, which may be committing the same reservation: catalog's row lock orders the commit
and the return. Commit first: the return gives the committed stock back (RETURNED). Return first: the commit
reports the reservation RELEASED, and ``_cancel_lost_reservation`` finds the order cancelled already and does
nothing. Either way the stock is back once and the order is CANCELLED.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pymongo.errors import PyMongoError

from services.common.pagination import PageTokens
from services.orders.adapters.repository import IdempotencyKeyTaken, MongoOrderRepository
from services.orders.catalog_port import CatalogPort, ReservationGone
from services.orders.domain.errors import (
    ConcurrencyConflict,
    DependencyUnavailable,
    IdempotencyConflict,
    InvalidArgument,
    NotFound,
    OrderError,
    PermissionDenied,
    PlacementInProgress,
)
from services.orders.domain.fingerprint import request_fingerprint, same_request
from services.orders.domain.model import (
    AuditRecord,
    LineRequest,
    Order,
    OrderLine,
    OrderStatus,
    Placement,
    ReservationState,
    check_idempotency_key,
    validate_lines,
)
from services.orders.identity import Caller
from services.orders.stock_committer import StockCommitter
from services.orders.unit_of_work import MongoUnitOfWork

log = logging.getLogger("services.orders")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
SYSTEM_ACTOR = "system:orders-recovery"


def utcnow() -> datetime:
    # Millisecond precision: what BSON stores, so cursors and comparisons round-trip exactly.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def check_order_id(value: str) -> str:
    try:
        return str(uuid.UUID(value)) if value and len(value) == 36 else _raise_bad_order_id()
    except ValueError:
        return _raise_bad_order_id()


def _raise_bad_order_id() -> str:
    raise InvalidArgument("order_id is malformed: expected a UUID such as 3f2b8c1e-...")


@dataclass(frozen=True)
class PlaceOrderCommand:
    idempotency_key: str
    user_id: str
    items: list[LineRequest]
    currency: str = ""
    shipping_address: dict[str, str] = field(default_factory=dict)


@dataclass
class RecoveryStats:
    claims_abandoned: int = 0
    reservations_committed: int = 0
    orders_cancelled: int = 0
    stock_given_back: int = 0  # cancelled orders whose stock catalog confirmed back on this pass
    audit_flushed: int = 0


class OrdersService:
    def __init__(
        self,
        repository: MongoOrderRepository,
        catalog: CatalogPort,
        *,
        claim_ttl_s: float = 30.0,
        placement_wait_s: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        page_tokens: PageTokens | None = None,
    ) -> None:
        self.page_tokens = page_tokens or PageTokens()
        self.repo = repository
        self.catalog = catalog
        # Step 5 for new orders, after the answer and in batches (see stock_committer.py); app.py starts it.
        self.committer = StockCommitter(repository, catalog, self._cancel_lost_reservation)
        self.claim_ttl = timedelta(seconds=claim_ttl_s)
        self.placement_wait_s = placement_wait_s
        self.clock = clock

    # --- PlaceOrder ----------------------------------------------------------------------------------------

    def place_order(self, caller: Caller, cmd: PlaceOrderCommand) -> Order:
        return self.place(caller, cmd)[0]

    def place(self, caller: Caller, cmd: PlaceOrderCommand) -> tuple[Order, bool]:
        """PlaceOrder; the flag says whether the order already existed (the key was replayed with this request)."""
        user = caller.effective_user(cmd.user_id)
        if not user:
            raise InvalidArgument("user_id is required to place an order")
        key = check_idempotency_key(cmd.idempotency_key)
        lines = validate_lines(cmd.items)
        currency = cmd.currency.strip().upper()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            raise InvalidArgument("currency must be an ISO 4217 code such as USD")
        address = _clean_address(cmd.shipping_address)
        fingerprint = request_fingerprint(lines, currency, address)

        # The key is claimed first (the unique index decides between concurrent requests); a request that loses
        # looks the key up: the same order (replay), a conflict, or a placement still in progress.
        deadline = time.monotonic() + self.placement_wait_s
        while True:
            claim = self._new_claim(caller, user, key, fingerprint, lines, address)
            try:
                self.repo.insert_claim(claim)
            except IdempotencyKeyTaken:
                pass
            else:
                return self._reserve_and_place(claim, currency), False
            existing = self.repo.get_by_idempotency_key(caller.tenant_id, user, key)
            if existing is not None:
                same = same_request(existing, lines, currency, address)
                if same is False:
                    raise IdempotencyConflict("idempotency_key was already used for a different order; use a new key")
                if same and existing.placement == Placement.PLACED:
                    return self._finish(existing), True
                if existing.updated_at < self.clock() - self.claim_ttl:
                    self._abandon_claim(existing)
                    continue
            # A claim in progress, or one removed between our insert and our read: wait and try again.
            if time.monotonic() > deadline:
                raise PlacementInProgress("an order with this idempotency_key is still being placed; retry")
            time.sleep(0.05)

    def _new_claim(
        self,
        caller: Caller,
        user: str,
        key: str,
        fingerprint: str,
        lines: list[LineRequest],
        address: dict[str, str],
    ) -> Order:
        return Order.claim(
            order_id=str(uuid.uuid4()),
            tenant_id=caller.tenant_id,
            user_id=user,
            idempotency_key=key,
            request_fingerprint=fingerprint,
            lines=lines,
            now=self.clock(),
            actor=caller.actor if caller.user_id else f"user:{user}",
            trace_id=caller.trace_id,
            shipping_address=address,
        )

    def _reserve_and_place(self, order: Order, currency: str) -> Order:
        items = [(li.product_id, li.quantity) for li in order.lines]
        try:
            # One catalog call takes the stock and prices the lines (server-side prices, read with the stock).
            products = self.catalog.reserve(order.tenant_id, order.reservation_id, items)
            order.apply_prices(
                [
                    OrderLine(p.product_id, p.sku, p.name, qty, p.unit_price_minor, p.currency)
                    for pid, qty in items
                    if (p := products.get(pid)) is not None
                ],
                currency,
            )
        except BaseException:
            # Nothing is accepted yet: give back whatever catalog may hold (a lost response may have
            # reserved) and remove the claim so the same key can be retried.
            self._compensate(order)
            raise
        try:
            placed = self.repo.mark_placed(order, self.clock())
        except PyMongoError as exc:
            self._compensate(order)
            raise DependencyUnavailable(
                "order store unavailable; nothing was charged, retry with the same key"
            ) from exc
        if not placed:
            # The recovery sweep judged our claim abandoned (we were slower than claim_ttl) and removed it.
            self._compensate(order)
            raise DependencyUnavailable("order placement timed out; retry with the same idempotency_key")
        log.info("order placed", extra={"order_id": order.order_id, "tenant_id": order.tenant_id})
        self.committer.submit(order)
        return order

    def _compensate(self, order: Order) -> None:
        try:
            self.catalog.release(order.tenant_id, order.reservation_id)
        except (OrderError, ReservationGone) as exc:
            # The reservation expires in catalog anyway (ttl); the claim is removed below or by the sweep.
            log.warning("release failed during compensation: %s", exc, extra={"order_id": order.order_id})
        try:
            self.repo.delete_claim(order.tenant_id, order.order_id)
        except PyMongoError as exc:
            log.warning("claim removal failed (the sweep will retry): %s", exc, extra={"order_id": order.order_id})

    def _finish(self, order: Order) -> Order:
        """Commit the stock of an accepted order if that has not happened yet, and flush its audit.

        A cancelled order whose stock catalog has not confirmed back (RETURNING; RESERVED for one cancelled before
        RETURNING existed) gets it back instead.
        """
        if order.status == OrderStatus.CANCELLED:
            if order.reservation_state in (ReservationState.RETURNING, ReservationState.RESERVED):
                self._give_back(order)
            self.repo.flush_audit(order)
            return order
        if order.reservation_state == ReservationState.RESERVED:
            # The committer's call, for one order (a replay, the recovery sweep): one way to commit stock.
            committed = self.catalog.commit_many(order.tenant_id, [order.reservation_id])[0]
            if order.reservation_id not in committed:
                self._cancel_lost_reservation(order)
                refreshed = self.repo.get(order.tenant_id, order.order_id)
                return refreshed or order
            # COMMITTED and the audit flush in one conditional update (see MongoOrderRepository.mark_committed).
            self.repo.mark_committed(order)
            return order
        self.repo.flush_audit(order)
        return order

    def _cancel_lost_reservation(self, order: Order) -> None:
        """The committer's (and _finish's) answer to a reservation catalog could not commit: cancel the order.

        Catalog reports a reservation it no longer holds as HELD: expired, released by the compensation of a
        placement thought abandoned, or given back by a cancel that won the race in catalog. In that last case the
        order is CANCELLED already and its own cancel records the state: nothing to do here.
        """
        with MongoUnitOfWork(self.repo) as uow:
            current = uow.get(order.tenant_id, order.order_id)
            if current is None or not current.can_transition(OrderStatus.CANCELLED):
                return
            current.transition(
                OrderStatus.CANCELLED,
                actor=SYSTEM_ACTOR,
                reason="stock reservation expired before it could be committed",
                trace_id="",
                now=self.clock(),
            )
            uow.commit()
        # Whatever catalog still takes (a HELD reservation past its expiry not yet swept) comes back; an expired or
        # released one is answered as is, and the state records RELEASED.
        self._give_back(current)

    def _abandon_claim(self, claim: Order) -> None:
        log.warning("abandoning stale placement claim", extra={"order_id": claim.order_id})
        self._compensate(claim)

    # --- reads ---------------------------------------------------------------------------------------------

    def _load_visible(self, caller: Caller, order_id: str, user_id: str) -> Order:
        oid = check_order_id(order_id)
        user = caller.effective_user(user_id)
        order = self.repo.get(caller.tenant_id, oid)
        # Same answer for "does not exist", "another tenant's" and "another user's": existence does not leak.
        if order is None or order.placement != Placement.PLACED:
            raise NotFound(f"order {oid} not found")
        if not caller.is_admin and order.user_id != user:
            raise NotFound(f"order {oid} not found")
        if caller.is_admin and user_id and order.user_id != user_id:
            raise NotFound(f"order {oid} not found")
        return order

    def get_order(self, caller: Caller, order_id: str, user_id: str = "") -> Order:
        return self._load_visible(caller, order_id, user_id)

    def list_orders(self, caller: Caller, user_id: str, page_size: int, page_token: str) -> tuple[list[Order], str]:
        user = caller.effective_user(user_id)
        if not user:
            raise InvalidArgument("user_id is required to list orders")
        if page_size < 0 or page_size > MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})")
        size = page_size or DEFAULT_PAGE_SIZE
        # The token is signed and bound to (tenant, user): another user's token is INVALID_ARGUMENT.
        scope = f"orders.list:{caller.tenant_id}:{user}"
        cursor: tuple[datetime, str] | None = None
        if page_token:
            raw = self.page_tokens.decode(scope, page_token)
            try:
                cursor = (datetime.fromisoformat(str(raw["c"])), str(raw["o"]))
            except (KeyError, ValueError) as exc:
                raise InvalidArgument("page_token is malformed; pass next_page_token back unchanged") from exc
        orders, nxt = self.repo.list_for_user(caller.tenant_id, user, size, cursor)
        token = self.page_tokens.encode(scope, {"c": nxt[0].isoformat(), "o": nxt[1]}) if nxt else ""
        return orders, token

    def audit(self, caller: Caller, order_id: str) -> list[AuditRecord]:
        order = self._load_visible(caller, order_id, "")
        self.repo.flush_audit(order)
        return self.repo.audit_for(caller.tenant_id, order.order_id)

    # --- transitions ---------------------------------------------------------------------------------------

    def update_status(
        self, caller: Caller, order_id: str, to: OrderStatus, expected_version: int, reason: str
    ) -> Order:
        if not caller.is_admin:
            raise PermissionDenied("only storefront staff (x-user-role: admin) may change an order's status")
        return self._transition(caller, order_id, "", to, expected_version, reason)

    def cancel_order(
        self, caller: Caller, order_id: str, expected_version: int, reason: str, user_id: str = ""
    ) -> Order:
        return self._transition(caller, order_id, user_id, OrderStatus.CANCELLED, expected_version, reason)

    def _transition(
        self, caller: Caller, order_id: str, user_id: str, to: OrderStatus, expected_version: int, reason: str
    ) -> Order:
        if expected_version <= 0:
            raise InvalidArgument("expected_version is required (the version you last read)")
        if len(reason) > 500:
            raise InvalidArgument("reason is limited to 500 characters")
        visible = self._load_visible(caller, order_id, user_id)
        with MongoUnitOfWork(self.repo) as uow:
            order = uow.get(caller.tenant_id, visible.order_id)
            if order is None:
                raise NotFound(f"order {visible.order_id} not found")
            if order.version != expected_version:
                raise ConcurrencyConflict(
                    f"order {order.order_id} is at version {order.version}, not {expected_version}; re-read"
                )
            if not caller.is_admin and order.status != OrderStatus.PENDING:
                raise PermissionDenied("a customer may cancel only a PENDING order; contact the store")
            order.transition(to, actor=caller.actor, reason=reason, trace_id=caller.trace_id, now=self.clock())
            uow.commit()
        if order.reservation_state == ReservationState.RETURNING:
            self._give_back(order)  # the cancel recorded the debt (Order.transition); pay it now
        return order

    def _give_back(self, order: Order) -> None:
        """Give a cancelled order's stock back to catalog, held or committed, and record what catalog says.

        ReturnReservation is idempotent and moves the stock exactly once, so this is safe to repeat (a cancel and
        the recovery sweep may both run it). On failure the order keeps its state (RETURNING) and the sweep retries;
        the cancel itself stands either way.
        """
        expected = order.reservation_state
        try:
            status = self.catalog.return_reservation(order.tenant_id, order.reservation_id)
            done = ReservationState.RETURNED if status == "RETURNED" else ReservationState.RELEASED
            self.repo.set_reservation_state(order, expected, done, self.clock())
        except (OrderError, PyMongoError) as exc:
            log.warning(
                "stock of cancelled order %s not given back yet (reservation_state %s; the recovery sweep retries): %s",
                order.order_id,
                expected,
                exc,
                extra={"order_id": order.order_id, "tenant_id": order.tenant_id},
            )

    # --- recovery ------------------------------------------------------------------------------------------

    def recover_once(self) -> RecoveryStats:
        """Finish or undo what a crashed process left behind. Safe to run concurrently on every replica."""
        stats = RecoveryStats()
        now = self.clock()
        for claim in self.repo.stale_claims(now - self.claim_ttl):
            self._compensate(claim)
            stats.claims_abandoned += 1
        for order in self.repo.uncommitted(now - timedelta(seconds=5)):
            before = order.status
            try:
                self._finish(order)
            except OrderError as exc:
                log.warning("recovery could not commit stock yet: %s", exc, extra={"order_id": order.order_id})
                continue
            if before == OrderStatus.CANCELLED:
                # Cancelled before RETURNING existed, its stock never confirmed back: _finish gave it back.
                stats.stock_given_back += int(order.reservation_state != ReservationState.RESERVED)
            elif order.reservation_state == ReservationState.COMMITTED:
                stats.reservations_committed += 1
            else:
                stats.orders_cancelled += 1
        for order in self.repo.returning(now - timedelta(seconds=5)):
            # A cancel whose ReturnReservation (or the record of its answer) failed: catalog or the store was down.
            self._give_back(order)
            stats.stock_given_back += int(order.reservation_state != ReservationState.RETURNING)
        for order in self.repo.with_unflushed_audit():
            if order.pending_audit:
                self.repo.flush_audit(order)
                stats.audit_flushed += 1
        return stats


def _clean_address(address: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in _ADDRESS_FIELDS:
        value = (address.get(key) or "").strip()
        if len(value) > 200:
            raise InvalidArgument(f"shipping_address.{key} is limited to 200 characters")
        if value:
            out[key] = value
    return out
