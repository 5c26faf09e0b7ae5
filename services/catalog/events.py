"""Product change events: PostgreSQL NOTIFY in the writing transaction, LISTEN here, fan-out to gRPC streams.

Going through PostgreSQL means every catalog replica's watchers see every replica's changes, and an event is
published only if its transaction commits. Delivery is at-most-once: after a reconnect (or a slow subscriber's
queue overflowing) subscribers get RESYNC and must drop their cache for the tenant.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from services.catalog.repository import CHANNEL

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class ChangeEvent:
    tenant_id: str
    product_id: str
    kind: str  # CREATED, UPDATED, STOCK_CHANGED, RESYNC
    version: int
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def merge(events: list[ChangeEvent]) -> ChangeEvent:
    """One event standing for several: the last if they all concern one product, else RESYNC (all may be stale)."""
    products = {e.product_id for e in events}
    if len(products) == 1 and "" not in products:
        return events[-1]
    return ChangeEvent(events[0].tenant_id, "", "RESYNC", 0)


def drain(q: queue.Queue[ChangeEvent]) -> list[ChangeEvent]:
    out: list[ChangeEvent] = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


class ChangeFeed:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[queue.Queue[ChangeEvent]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="catalog-change-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def subscribe(self, tenant_id: str) -> queue.Queue[ChangeEvent]:
        q: queue.Queue[ChangeEvent] = queue.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers.setdefault(tenant_id, set()).add(q)
        return q

    def unsubscribe(self, tenant_id: str, q: queue.Queue[ChangeEvent]) -> None:
        with self._lock:
            subs = self._subscribers.get(tenant_id)
            if subs is not None:
                subs.discard(q)
                if not subs:
                    del self._subscribers[tenant_id]

    def _deliver(self, event: ChangeEvent) -> None:
        with self._lock:
            targets = list(self._subscribers.get(event.tenant_id, ()))
        for q in targets:
            self._put(q, event)

    def _put(self, q: queue.Queue[ChangeEvent], event: ChangeEvent) -> None:
        try:
            q.put_nowait(event)
        except queue.Full:
            # A subscriber that cannot keep up loses detail, not correctness: it is told to resync.
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
            q.put_nowait(ChangeEvent(event.tenant_id, "", "RESYNC", 0))

    def _resync_all(self) -> None:
        with self._lock:
            targets = [(t, q) for t, subs in self._subscribers.items() for q in subs]
        for tenant, q in targets:
            self._put(q, ChangeEvent(tenant, "", "RESYNC", 0))

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if not first:
                        self._resync_all()  # events may have been missed while disconnected
                    first = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._handle(note.payload)
            except psycopg.Error as exc:
                self.connected.clear()
                log.warning("change feed disconnected; retrying", extra={"error": str(exc)[:200]})
                self._stop.wait(1.0)

    def _handle(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            event = ChangeEvent(str(data["t"]), str(uuid.UUID(data["p"])), str(data["k"]), int(data["v"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed change notification")
            return
        self._deliver(event)
