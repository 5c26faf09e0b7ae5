"""Catalog domain rules and the migration runner."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from services.catalog import domain
from services.catalog.app import MIGRATIONS
from services.common import errors
from services.common.pg_migrate import load_migrations, migrate
from tests.services.pg_server import PgServer


def test_reservation_items_are_validated_and_sorted() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    items = domain.validate_reservation_items([(a, 1), (b, 2)])
    assert [str(p) for p, _ in items] == sorted([a, b])
    with pytest.raises(errors.InvalidArgument, match=r"items\[0\]\.quantity"):
        domain.validate_reservation_items([(a, 0)])
    with pytest.raises(errors.InvalidArgument, match="items: needs at least 1"):
        domain.validate_reservation_items([])
    with pytest.raises(errors.InvalidArgument, match=r"items\[0\]\.quantity: must be at most"):
        domain.validate_reservation_items([(a, domain.MAX_QUANTITY + 1)])
    assert domain.request_hash(items) == domain.request_hash(tuple(items))
    assert domain.reservation_ttl(0) == domain.DEFAULT_TTL_SECONDS
    with pytest.raises(errors.InvalidArgument, match="ttl_seconds"):
        domain.reservation_ttl(3601)


def test_migrations_apply_once_and_detect_edits(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.url(pg_server.create_database())
    assert migrate(url, MIGRATIONS) == [m.version for m in load_migrations(MIGRATIONS)]
    assert migrate(url, MIGRATIONS) == []
    edited = tmp_path / "m"
    edited.mkdir()
    for m in load_migrations(MIGRATIONS):
        (edited / f"{m.version:04d}_{m.name}.sql").write_text(m.sql + "\n-- edited\n")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        migrate(url, edited)
    with psycopg.connect(url) as conn:
        forced = conn.execute("SELECT relname FROM pg_class WHERE relforcerowsecurity ORDER BY 1").fetchall()
    assert [r[0] for r in forced] == ["products", "reservation_items", "reservations"]


def test_merged_change_events_keep_one_product_or_ask_for_a_resync() -> None:
    from services.catalog.events import ChangeEvent, merge

    a1 = ChangeEvent("t", "a", "STOCK_CHANGED", 1)
    a2 = ChangeEvent("t", "a", "UPDATED", 2)
    b1 = ChangeEvent("t", "b", "STOCK_CHANGED", 1)
    assert merge([a1]) is a1
    assert merge([a1, a2]) is a2  # one product: its latest change says it all
    merged = merge([a1, b1])
    assert (merged.tenant_id, merged.product_id, merged.kind) == ("t", "", "RESYNC")
    assert merge([ChangeEvent("t", "", "RESYNC", 0), a1]).kind == "RESYNC"  # a resync is never narrowed
