"""The recovery sweep's audit pass against a real MongoDB-wire server: it finds leftover outboxes by an index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import cast

from pymongo import MongoClient

from services.orders.adapters.repository import ORDERS, MongoOrderRepository, ensure_indexes
from services.orders.catalog_port import CatalogPort
from services.orders.domain.model import (
    LineRequest,
    Order,
    OrderLine,
    OrderStatus,
    Placement,
    ReservationState,
)
from services.orders.service import OrdersService


def _order(placement: Placement) -> Order:
    order_id = str(uuid.uuid4())
    order = Order.claim(
        order_id=order_id,
        tenant_id="acme",
        user_id="u1",
        idempotency_key=f"key-{order_id}",
        request_fingerprint="fp",
        lines=[LineRequest("p1", 1)],
        now=datetime.now(UTC),
        actor="user:u1",
        trace_id="",
    )
    order.apply_prices([OrderLine("p1", "S1", "thing", 1, 150, "USD")])
    order.placement = placement
    if placement == Placement.PLACED:
        order.reservation_state = ReservationState.COMMITTED
    return order


def test_recovery_flushes_a_leftover_audit_outbox_and_leaves_claims_alone(mongo_url: str) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_url)
    database = f"recovery_{uuid.uuid4().hex[:8]}"
    ensure_indexes(client, database)
    repo = MongoOrderRepository(client, database)
    # An accepted order whose "order placed" record never left its outbox (a crash between the two writes), and
    # a placement in progress (a claim: its record is not an audit record yet).
    crashed, claim = _order(Placement.PLACED), _order(Placement.RESERVING)
    repo.insert_claim(crashed)
    repo.insert_claim(claim)
    service = OrdersService(repo, cast(CatalogPort, object()))  # the audit pass never calls catalog

    stats = service.recover_once()

    assert stats.audit_flushed == 1
    assert [(r.order_id, r.to_status) for r in repo.audit_for("acme", crashed.order_id)] == [
        (crashed.order_id, OrderStatus.PENDING)
    ]
    stored = client[database][ORDERS].find_one({"_id": crashed.order_id})
    assert stored is not None
    assert (stored["audit_outbox"], stored["audit_pending"]) == ([], False)
    assert repo.audit_for("acme", claim.order_id) == []
    still = client[database][ORDERS].find_one({"_id": claim.order_id})
    assert still is not None
    assert len(still["audit_outbox"]) == 1  # untouched: it becomes the order's first record once placed
    assert service.recover_once().audit_flushed == 0  # nothing left: the second pass finds nothing
    client.drop_database(database)
    client.close()
