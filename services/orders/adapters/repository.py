"""Mongo repositories for orders and their audit trail.

Collections (database ``orders``):

``orders``  one document per order (``_id`` = order id = catalog reservation id)
    unique  (tenant_id, user_id, idempotency_key)   idempotency, enforced by the store not by a read
            (tenant_id, user_id, created_at, order_id) per-user history, newest first, cursor pagination
            (placement, reservation_state, updated_at) the recovery sweep's work lists (RESERVED, RETURNING)
            (audit_pending)                    accepted orders whose audit outbox is not empty (the sweep)
``order_audit``  append-only: inserted, never updated or deleted (``_id`` = "<order_id>:<version>")
    unique  (tenant_id, order_id, version)

Every query carries ``tenant_id`` except the recovery sweep, a system job that by definition works across
tenants (it then addresses each order by tenant_id + _id).

Equality filters on indexed fields are written ``{"field": {"$eq": v}}``: the same query as ``{"field": v}`` for
MongoDB and DocumentDB, but nx-27017 (neosqlite) translates the short form into ``json_extract(...) = v OR EXISTS
(array match)``, which SQLite cannot serve from the expression index, so every idempotency lookup scanned the
whole orders collection (the cost grew with every order placed); the ``$eq`` form is an index search there.

No multi-document transactions (nx-27017 cannot run them concurrently; DocumentDB limits them): the audit
record is first written into the order document itself (``audit_outbox``) by the same atomic conditional
update that changes the order, then copied into ``order_audit`` under a deterministic id and removed from
the outbox. A crash in between leaves the entry in the outbox; the next writer or the sweep copies it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.orders.adapters.mongo_client import Document, primary, secondary_preferred
from services.orders.domain.model import (
    AuditRecord,
    Order,
    OrderLine,
    OrderStatus,
    Placement,
    ReservationState,
)

ORDERS = "orders"
AUDIT = "order_audit"
# An emptied outbox, and the indexed flag that lets the sweep find non-empty ones without reading every order
# (``audit_outbox: {$ne: []}`` can use no index on DocumentDB, and nx-27017 even matches empty arrays with it).
_OUTBOX_EMPTY = {"audit_outbox": [], "audit_pending": False}


class IdempotencyKeyTaken(Exception):
    """Insert lost the race on the unique idempotency index."""


def ensure_indexes(client: MongoClient[Document], database: str) -> None:
    db = primary(client, database)
    db[ORDERS].create_index(
        [("tenant_id", ASCENDING), ("user_id", ASCENDING), ("idempotency_key", ASCENDING)],
        unique=True,
        name="uniq_tenant_user_idempotency",
    )
    db[ORDERS].create_index(
        [
            ("tenant_id", ASCENDING),
            ("user_id", ASCENDING),
            ("created_at", DESCENDING),
            ("order_id", DESCENDING),
        ],
        name="tenant_user_history",
    )
    db[ORDERS].create_index(
        [("placement", ASCENDING), ("reservation_state", ASCENDING), ("updated_at", ASCENDING)],
        name="recovery_sweep",
    )
    db[ORDERS].create_index([("audit_pending", ASCENDING)], name="audit_outbox_pending")
    db[AUDIT].create_index(
        [("tenant_id", ASCENDING), ("order_id", ASCENDING), ("version", ASCENDING)],
        unique=True,
        name="uniq_tenant_order_version",
    )


# --- mapping ---
# Timestamps are stored as integer epoch milliseconds: nx-27017 0.8 turns a datetime written by ``$set``
# into a string (so range queries would compare strings); integers behave the same on every server.


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


# -------------------------------------------------------------------------------------------


def _audit_to_doc(r: AuditRecord) -> Document:
    return {
        "_id": r.audit_id,
        "tenant_id": r.tenant_id,
        "order_id": r.order_id,
        "actor": r.actor,
        "from_status": r.from_status.value if r.from_status else None,
        "to_status": r.to_status.value,
        "reason": r.reason,
        "trace_id": r.trace_id,
        "at": to_ms(r.at),
        "version": r.version,
    }


def _audit_from_doc(d: Document) -> AuditRecord:
    return AuditRecord(
        audit_id=d["_id"],
        tenant_id=d["tenant_id"],
        order_id=d["order_id"],
        actor=d["actor"],
        from_status=OrderStatus(d["from_status"]) if d.get("from_status") else None,
        to_status=OrderStatus(d["to_status"]),
        reason=d.get("reason", ""),
        trace_id=d.get("trace_id", ""),
        at=from_ms(d["at"]),
        version=int(d["version"]),
    )


def order_to_doc(o: Order) -> Document:
    return {
        "_id": o.order_id,
        "order_id": o.order_id,
        "tenant_id": o.tenant_id,
        "user_id": o.user_id,
        "idempotency_key": o.idempotency_key,
        "request_fingerprint": o.request_fingerprint,
        "lines": [
            {
                "product_id": li.product_id,
                "sku": li.sku,
                "name": li.name,
                "quantity": li.quantity,
                "unit_price_minor": li.unit_price_minor,
                "currency": li.currency,
            }
            for li in o.lines
        ],
        "currency": o.currency,
        "total_minor": o.total_minor,
        "shipping_address": dict(o.shipping_address),
        "status": o.status.value,
        "version": o.version,
        "created_at": to_ms(o.created_at),
        "updated_at": to_ms(o.updated_at),
        "placement": o.placement.value,
        "reservation_id": o.reservation_id,
        "reservation_state": o.reservation_state.value,
        "audit_outbox": [_audit_to_doc(r) for r in o.pending_audit],
        # Only an accepted order has an audit trail; a claim's record becomes real when it is placed.
        "audit_pending": bool(o.pending_audit) and o.placement == Placement.PLACED,
    }


def order_from_doc(d: Document) -> Order:
    order = Order(
        order_id=d["_id"],
        tenant_id=d["tenant_id"],
        user_id=d["user_id"],
        idempotency_key=d["idempotency_key"],
        request_fingerprint=d["request_fingerprint"],
        lines=[
            OrderLine(
                product_id=li["product_id"],
                sku=li.get("sku", ""),
                name=li.get("name", ""),
                quantity=int(li["quantity"]),
                unit_price_minor=int(li["unit_price_minor"]),
                currency=li["currency"],
            )
            for li in d.get("lines", [])
        ],
        currency=d["currency"],
        status=OrderStatus(d["status"]),
        version=int(d["version"]),
        created_at=from_ms(d["created_at"]),
        updated_at=from_ms(d["updated_at"]),
        placement=Placement(d.get("placement", Placement.PLACED.value)),
        reservation_id=d.get("reservation_id", ""),
        reservation_state=ReservationState(d.get("reservation_state", ReservationState.NONE.value)),
        shipping_address={str(k): str(v) for k, v in (d.get("shipping_address") or {}).items()},
    )
    order.pending_audit = [_audit_from_doc(a) for a in d.get("audit_outbox", [])]
    return order


# --- repositories -----------------------------------------------------------------------------------------


class MongoOrderRepository:
    """Orders of every tenant; every method takes tenant_id explicitly so no query can forget it."""

    def __init__(self, client: MongoClient[Document], database: str) -> None:
        self._orders: Collection[Document] = primary(client, database)[ORDERS]
        self._orders_lagging: Collection[Document] = secondary_preferred(client, database)[ORDERS]
        self._audit: Collection[Document] = primary(client, database)[AUDIT]

    # reads
    def get(self, tenant_id: str, order_id: str) -> Order | None:
        d = self._orders.find_one({"_id": order_id, "tenant_id": tenant_id})
        return order_from_doc(d) if d else None

    def get_by_idempotency_key(self, tenant_id: str, user_id: str, key: str) -> Order | None:
        d = self._orders.find_one(
            {"tenant_id": {"$eq": tenant_id}, "user_id": {"$eq": user_id}, "idempotency_key": {"$eq": key}}
        )
        return order_from_doc(d) if d else None

    def list_for_user(
        self, tenant_id: str, user_id: str, page_size: int, cursor: tuple[datetime, str] | None
    ) -> tuple[list[Order], tuple[datetime, str] | None]:
        query: dict[str, Any] = {
            "tenant_id": {"$eq": tenant_id},
            "user_id": {"$eq": user_id},
            "placement": {"$eq": Placement.PLACED.value},
        }
        if cursor is not None:
            created, oid = cursor
            query["$or"] = [
                {"created_at": {"$lt": to_ms(created)}},
                {"created_at": to_ms(created), "order_id": {"$lt": oid}},
            ]
        # History tolerates replica lag (a just-placed order may show a moment later): may read a replica.
        docs = list(
            self._orders_lagging.find(query)
            .sort([("created_at", DESCENDING), ("order_id", DESCENDING)])
            .limit(page_size + 1)
        )
        orders = [order_from_doc(d) for d in docs[:page_size]]
        nxt = (orders[-1].created_at, orders[-1].order_id) if len(docs) > page_size and orders else None
        return orders, nxt

    # writes
    def insert_claim(self, order: Order) -> None:
        try:
            self._orders.insert_one(order_to_doc(order))
        except DuplicateKeyError as exc:
            raise IdempotencyKeyTaken(order.idempotency_key) from exc

    def delete_claim(self, tenant_id: str, order_id: str) -> bool:
        """Remove an unaccepted claim (placement RESERVING only; an accepted order is never deleted)."""
        res = self._orders.delete_one({"_id": order_id, "tenant_id": tenant_id, "placement": Placement.RESERVING.value})
        return res.deleted_count == 1

    def save(self, order: Order, expected_version: int) -> bool:
        """Conditional update of a transition: only if the stored version is still ``expected_version``.

        Only the fields a transition changes are written, so internal bookkeeping (reservation_state) made by
        another writer is never overwritten with a stale value. The one exception is the cancel's RETURNING (the
        stock is owed back to catalog, see ReservationState): it supersedes RESERVED and COMMITTED alike, so it
        may overwrite the committer's concurrent RESERVED -> COMMITTED, and it travels with the cancel so that the
        debt cannot be lost between two writes. The audit entries travel in the same atomic update (outbox) and
        are then copied to the audit collection.
        """
        fields: dict[str, Any] = {
            "status": order.status.value,
            "version": order.version,
            "updated_at": to_ms(order.updated_at),
            "audit_outbox": [_audit_to_doc(r) for r in order.pending_audit],
            "audit_pending": bool(order.pending_audit),
        }
        if order.reservation_state == ReservationState.RETURNING:
            fields["reservation_state"] = ReservationState.RETURNING.value
        res = self._orders.update_one(
            {"_id": order.order_id, "tenant_id": order.tenant_id, "version": expected_version}, {"$set": fields}
        )
        if res.matched_count != 1:
            return False
        self.flush_audit(order)
        return True

    def mark_placed(self, order: Order, now: datetime) -> bool:
        """RESERVING -> PLACED with the priced lines: from here on the order is accepted and must never be lost.

        The whole document is replaced, guarded by ``placement: RESERVING``: nothing but this request writes a
        claim (the sweep only deletes stale ones, and then this matches nothing), and a replace cost nx-27017 a
        third less than the equivalent ``$set`` of six fields (docs/benchmarks.md).
        """
        placed = dataclasses.replace(
            order, placement=Placement.PLACED, reservation_state=ReservationState.RESERVED, updated_at=now
        )
        res = self._orders.replace_one(
            {"_id": order.order_id, "tenant_id": order.tenant_id, "placement": Placement.RESERVING.value},
            order_to_doc(placed),
        )
        if res.matched_count != 1:
            return False
        order.placement = Placement.PLACED
        order.reservation_state = ReservationState.RESERVED
        order.updated_at = now
        return True

    def set_reservation_state(
        self, order: Order, expected: ReservationState, new: ReservationState, now: datetime
    ) -> bool:
        res = self._orders.update_one(
            {"_id": order.order_id, "tenant_id": order.tenant_id, "reservation_state": expected.value},
            {"$set": {"reservation_state": new.value}},
        )
        if res.matched_count == 1:
            order.reservation_state = new
            return True
        return False

    def mark_committed(self, order: Order) -> bool:
        """RESERVED -> COMMITTED after catalog committed the stock, with the audit outbox flushed on the way.

        The outbox entries are copied first, then ONE conditional update records COMMITTED and empties the outbox
        (two store round trips instead of three: the placement path's last writes). The update's condition is
        both guards at once: still RESERVED and still the version whose outbox was copied. If the order changed
        in between (a concurrent cancel), each guard is applied on its own, as before.
        """
        if not order.pending_audit:
            return self.set_reservation_state(
                order, ReservationState.RESERVED, ReservationState.COMMITTED, order.updated_at
            )
        self._copy_audit(order)
        res = self._orders.update_one(
            {
                "_id": order.order_id,
                "tenant_id": order.tenant_id,
                "reservation_state": ReservationState.RESERVED.value,
                "version": order.version,
            },
            {"$set": {"reservation_state": ReservationState.COMMITTED.value, **_OUTBOX_EMPTY}},
        )
        if res.matched_count == 1:
            order.reservation_state = ReservationState.COMMITTED
            order.pending_audit = []
            return True
        committed = self.set_reservation_state(
            order, ReservationState.RESERVED, ReservationState.COMMITTED, order.updated_at
        )
        self.flush_audit(order)
        return committed

    def mark_committed_many(self, orders: list[Order]) -> None:
        """:meth:`mark_committed` for a batch of just-placed orders in two store round trips.

        Every outbox entry in one insert, then one guarded update per order (still RESERVED, still the version
        whose outbox was copied) in a single bulk write. If any guard fails (an order changed meanwhile, say a
        cancel), every order of the batch goes through :meth:`mark_committed`, which is idempotent.
        """
        if not orders:
            return
        self._insert_audit([_audit_to_doc(r) for o in orders for r in o.pending_audit])
        result = self._orders.bulk_write(
            [
                UpdateOne(
                    {
                        "_id": o.order_id,
                        "tenant_id": o.tenant_id,
                        "reservation_state": ReservationState.RESERVED.value,
                        "version": o.version,
                    },
                    {"$set": {"reservation_state": ReservationState.COMMITTED.value, **_OUTBOX_EMPTY}},
                )
                for o in orders
            ],
            ordered=False,
        )
        if result.matched_count == len(orders):
            for o in orders:
                o.reservation_state = ReservationState.COMMITTED
                o.pending_audit = []
            return
        for o in orders:
            self.mark_committed(o)

    def _copy_audit(self, order: Order) -> None:
        self._insert_audit([_audit_to_doc(r) for r in order.pending_audit])

    def _insert_audit(self, docs: list[Document]) -> None:
        if not docs:
            return
        if len(docs) == 1:
            # The usual case (one new record): insert_one skips pymongo's bulk-write machinery.
            with contextlib.suppress(DuplicateKeyError):  # an earlier flush already copied it
                self._audit.insert_one(docs[0])
            return
        try:
            self._audit.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            # Duplicate ids mean an earlier flush already copied them: that is the idempotency we want.
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def flush_audit(self, order: Order) -> None:
        """Copy outbox entries to the audit collection (idempotent), then empty the outbox if unchanged."""
        if not order.pending_audit:
            return
        self._copy_audit(order)
        self._orders.update_one(
            {"_id": order.order_id, "tenant_id": order.tenant_id, "version": order.version},
            {"$set": _OUTBOX_EMPTY},
        )
        order.pending_audit = []

    def audit_for(self, tenant_id: str, order_id: str) -> list[AuditRecord]:
        docs = self._audit.find({"tenant_id": tenant_id, "order_id": order_id}).sort("version", ASCENDING)
        return [_audit_from_doc(d) for d in docs]

    # recovery (system, cross-tenant by design)
    def stale_claims(self, older_than: datetime) -> Iterator[Order]:
        query = {"placement": {"$eq": Placement.RESERVING.value}, "updated_at": {"$lt": to_ms(older_than)}}
        for d in self._orders.find(query):
            yield order_from_doc(d)

    def uncommitted(self, older_than: datetime) -> Iterator[Order]:
        for d in self._orders.find(
            {
                "placement": {"$eq": Placement.PLACED.value},
                "reservation_state": {"$eq": ReservationState.RESERVED.value},
                "updated_at": {"$lt": to_ms(older_than)},
            }
        ):
            yield order_from_doc(d)

    def returning(self, older_than: datetime) -> Iterator[Order]:
        """Cancelled orders whose stock catalog has not confirmed back yet (served by the recovery_sweep index)."""
        for d in self._orders.find(
            {
                "placement": {"$eq": Placement.PLACED.value},
                "reservation_state": {"$eq": ReservationState.RETURNING.value},
                "updated_at": {"$lt": to_ms(older_than)},
            }
        ):
            yield order_from_doc(d)

    def with_unflushed_audit(self, limit: int = 100) -> Iterator[Order]:
        query = {"audit_pending": {"$eq": True}}
        for d in self._orders.find(query).limit(limit):
            yield order_from_doc(d)

    def ping(self, timeout: timedelta | None = None) -> None:
        self._orders.database.client.admin.command("ping")
