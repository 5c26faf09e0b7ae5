"""Property tests on the real repository: stock never negative, and every unit is accounted for.

Conservation: for each product, available + reserved + committed == initial stock (+ admin adjustments), after
any sequence of reserve / commit / release / expire / return (a cancelled order's stock, held or committed, given
back) and retries of a return, including ones that fail.

Exactly once: conservation alone would not see a committed unit returned twice while another reservation holds
committed stock of the same product (committed down twice, available up twice: the sum is unchanged). So the books
are also checked against the reservations themselves: reserved is the sum of the HELD reservations' quantities,
committed that of the COMMITTED ones (RELEASED, EXPIRED and RETURNED ones hold nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.catalog import domain
from services.catalog.repository import CatalogRepository
from services.common import errors, tenancy
from services.common.pg import Database
from tests.services.catalog.catalog_support import CatalogDb

Op = tuple[str, int, int]  # (kind, product index or reservation index, quantity)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 2), st.integers(1, 8)),
        st.tuples(st.just("reserve2"), st.integers(0, 2), st.integers(1, 8)),
        st.tuples(st.just("commit"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("release"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("expire"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("return"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("return_twice"), st.integers(0, 9), st.just(0)),
        # orders' usual cancel: the batch committed the stock, then the cancel returns it (and retries)
        st.tuples(st.just("commit_then_return"), st.integers(0, 9), st.just(0)),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def repo(catalog_db: CatalogDb) -> Iterator[CatalogRepository]:
    db = Database(catalog_db.app_url, max_size=2)
    db.open()
    yield CatalogRepository(db)
    db.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.lists(st.integers(0, 10), min_size=3, max_size=3), script=ops)
def test_stock_is_conserved_and_never_negative(repo: CatalogRepository, initial: list[int], script: list[Op]) -> None:
    tenant = f"p-{uuid.uuid4().hex[:10]}"
    with tenancy.tenant_context(tenant):
        products = [
            repo.create_product(domain.NewProduct(f"P{i}", f"p{i}", "", 100, "USD", "", stock)).id
            for i, stock in enumerate(initial)
        ]
        reservations: list[uuid.UUID] = []
        for kind, index, qty in script:
            try:
                if kind in ("reserve", "reserve2"):
                    items = [(products[index], qty)]
                    if kind == "reserve2":
                        items.append((products[(index + 1) % 3], qty))
                    rid = uuid.uuid4()
                    repo.reserve(rid, tuple(sorted(items)), 60)
                    reservations.append(rid)
                elif reservations:
                    rid = reservations[index % len(reservations)]
                    if kind == "commit":
                        repo.commit(rid)
                    elif kind == "release":
                        repo.release(rid)
                    elif kind in ("return", "return_twice", "commit_then_return"):
                        if kind == "commit_then_return":
                            repo.commit(rid)
                        first = repo.return_reservation(rid)
                        if kind != "return":  # a retry (lost answer): the same answer, nothing moves again
                            assert repo.return_reservation(rid).status == first.status
                    else:
                        with repo.db.tenant_tx() as conn:
                            conn.execute(
                                "UPDATE reservations SET expires_at = now() - interval '1 s' "
                                "WHERE id = %s AND status = 'HELD'",
                                [rid],
                            )
                        repo.sweep_expired(tenant)
            except (errors.FailedPrecondition, errors.NotFound):
                pass  # refusals are part of the property: they must leave the books balanced
            held = _held_by_status(repo)
            for pid, start in zip(products, initial, strict=True):
                t = repo.stock_totals(pid)
                assert min(t.values()) >= 0, t
                assert t["stock_available"] + t["stock_reserved"] + t["stock_committed"] == start, t
                assert t["stock_reserved"] == held.get((pid, "HELD"), 0), (t, held)
                assert t["stock_committed"] == held.get((pid, "COMMITTED"), 0), (t, held)


def _held_by_status(repo: CatalogRepository) -> dict[tuple[uuid.UUID, str], int]:
    """Units per (product, reservation status) of the current tenant's reservations."""
    with repo.db.tenant_tx() as conn:
        rows = conn.execute(
            "SELECT i.product_id, r.status, sum(i.quantity) AS q FROM reservations r "
            "JOIN reservation_items i ON i.reservation_id = r.id GROUP BY i.product_id, r.status"
        ).fetchall()
    return {(row["product_id"], row["status"]): int(row["q"]) for row in rows}
