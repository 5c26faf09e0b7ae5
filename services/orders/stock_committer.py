"""Step 5 of PlaceOrder, after the answer: commit the stock of placed orders in batches.

An order is accepted once it is PLACED with its stock HELD in catalog (step 4); committing that stock only moves
it from reserved to committed and stops the reservation from expiring, so the caller need not wait for it. Done
one order at a time it cost a catalog call and two store writes per order, as much as everything before it; a
batch costs one CommitReservations call and two store round trips, whatever its size. The batch is whatever has
queued up while the previous one ran (no added wait), so a quiet shop commits each order a few ms after its
answer and a busy one amortises.

Nothing here is needed for correctness: an order this process did not commit (a crash, catalog down) is still
RESERVED in the store, and the recovery sweep finishes it with the same code as before, one by one.

A cancel may meet the batch: the customer cancels within the ~100 ms between the answer and the commit. Catalog's
row lock orders the two. Committed first: the cancel's ReturnReservation gives the committed stock back, and the
COMMITTED mark written here (guarded on RESERVED) finds the order RETURNING and changes nothing. Returned first:
catalog lists the reservation as failed (RELEASED), and ``on_reservation_gone`` finds the order cancelled already.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable

from services.orders.adapters.repository import MongoOrderRepository
from services.orders.catalog_port import CatalogPort
from services.orders.domain.errors import OrderError
from services.orders.domain.model import Order

log = logging.getLogger("services.orders")
MAX_BATCH = 500  # catalog's CommitReservations limit


class StockCommitter:
    def __init__(
        self,
        repo: MongoOrderRepository,
        catalog: CatalogPort,
        on_reservation_gone: Callable[[Order], None],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.repo = repo
        self.catalog = catalog
        # The service's answer to an order whose reservation catalog no longer holds (expired, released, or given
        # back by a cancel that won the race): cancel it, or nothing if it is cancelled already.
        self.on_reservation_gone = on_reservation_gone
        self.max_batch = max_batch
        self._queue: queue.Queue[Order] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, order: Order) -> None:
        # A copy: the caller still converts its order into the answer while this thread updates ours.
        self._queue.put(dataclasses.replace(order, lines=list(order.lines), pending_audit=list(order.pending_audit)))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="orders-stock-committer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Commit what is queued, then stop (whatever is left is the recovery sweep's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.commit(batch)
            except Exception as exc:  # the store or catalog may be down: the sweep finishes these orders later
                log.warning("batched stock commit failed; the recovery sweep will retry: %s", str(exc)[:300])

    def commit(self, orders: list[Order]) -> None:
        """Commit one batch: a CommitReservations call and two store writes per tenant in it."""
        by_tenant: dict[str, list[Order]] = defaultdict(list)
        for order in orders:
            by_tenant[order.tenant_id].append(order)
        for tenant, group in by_tenant.items():
            try:
                committed, failed = self.catalog.commit_many(tenant, [o.reservation_id for o in group])
            except OrderError as exc:
                log.warning("catalog could not commit a batch yet: %s", exc, extra={"tenant_id": tenant})
                continue
            self.repo.mark_committed_many([o for o in group if o.reservation_id in committed])
            for order in group:
                if order.reservation_id in failed:
                    self.on_reservation_gone(order)
