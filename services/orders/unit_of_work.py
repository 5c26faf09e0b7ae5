"""Unit of work (cosmicpython): load aggregates, let them decide, persist every change atomically per order.

``commit`` writes each changed order with a conditional update on the version it was loaded at, so two
concurrent transitions of one order cannot both win (the loser gets ConcurrencyConflict -> ABORTED).
"""

from __future__ import annotations

from types import TracebackType

from services.orders.adapters.repository import MongoOrderRepository
from services.orders.domain.errors import ConcurrencyConflict
from services.orders.domain.model import Order


class MongoUnitOfWork:
    def __init__(self, repository: MongoOrderRepository) -> None:
        self.repository = repository
        self._seen: dict[str, tuple[Order, int]] = {}

    def __enter__(self) -> MongoUnitOfWork:
        self._seen = {}
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()

    def get(self, tenant_id: str, order_id: str) -> Order | None:
        order = self.repository.get(tenant_id, order_id)
        if order is not None:
            # An audit entry left in the outbox by a crashed writer is copied before anything new happens.
            self.repository.flush_audit(order)
            self._seen[order.order_id] = (order, order.version)
        return order

    def commit(self) -> None:
        for order, loaded_version in list(self._seen.values()):
            if order.version == loaded_version:
                continue
            if not self.repository.save(order, loaded_version):
                raise ConcurrencyConflict(
                    f"order {order.order_id} was changed concurrently (expected version {loaded_version}); "
                    "re-read it and retry"
                )
            self._seen[order.order_id] = (order, order.version)

    def rollback(self) -> None:
        # Nothing was written before commit(); forgetting the tracked aggregates is the whole rollback.
        self._seen = {}
