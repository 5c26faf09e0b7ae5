"""Catalog persistence on PostgreSQL. Every method runs in one tenant-scoped transaction (RLS applies).

Stock moves only through conditional UPDATEs (``WHERE stock_available >= qty``): under READ COMMITTED a
concurrent writer re-evaluates the condition on the row's newest version after the lock wait, so concurrent
reservations can never take stock below zero, and a multi-item reservation either takes every item or, by
raising inside the transaction, none.

Reservations (states and where their stock is: migrations/0003): ReserveStock takes available -> reserved (HELD);
CommitReservations moves reserved -> committed (COMMITTED: sold, not shipped); three ways give stock back to
available, each once, because each moves the stock in the transaction that takes the reservation out of the state
that holds it, under the reservation's row lock: ReleaseReservation (HELD -> RELEASED), the expiry sweeper
(HELD -> EXPIRED) and ReturnReservation (HELD -> RELEASED or COMMITTED -> RETURNED, see :meth:`return_reservation`).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any, NoReturn

import psycopg

from services.catalog import domain
from services.common import errors, tenancy
from services.common.pg import Conn, Database

CHANNEL = "catalog_changes"  # also in migrations/0002_reserve_stock.sql, which notifies on its own
# SQLSTATE raised by reserve_stock (migrations/0002) when an item's stock could not be taken.
_STOCK_NOT_TAKEN = "RS001"
# The `noqa: S608` below: f-strings only splice constants of this module (column lists, fixed clauses); every
# value from a request is a bound parameter.
_PRODUCT_COLUMNS = (
    "id, sku, name, description, price_minor, currency, category, stock_available, version, created_at, updated_at"
)


def _product(row: dict[str, Any]) -> domain.Product:
    return domain.Product(**{k: row[k] for k in domain.Product.__dataclass_fields__})


def _notify(conn: Conn, product_id: uuid.UUID, kind: str, version: int) -> None:
    """Queue a change event; PostgreSQL delivers it to every listener only if the transaction commits."""
    payload = json.dumps({"t": tenancy.current_tenant(), "p": str(product_id), "k": kind, "v": version})
    conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])


class CatalogRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Tenants whose catalog_tenants row this process has seen committed: rows are never deleted, so the
        # reservation path can skip its INSERT ... ON CONFLICT (one round trip per ReserveStock).
        self._known_tenants: set[str] = set()

    # -- products ------------------------------------------------------------------------------------------

    def create_product(self, new: domain.NewProduct) -> domain.Product:
        with self.db.tenant_tx() as conn:
            conn.execute(
                "INSERT INTO catalog_tenants (tenant_id) VALUES (%s) ON CONFLICT DO NOTHING",
                [tenancy.current_tenant()],
            )
            try:
                with conn.transaction():  # savepoint: a duplicate SKU must not poison the outer transaction
                    row = conn.execute(
                        f"INSERT INTO products (sku, name, description, price_minor, currency, category, "  # noqa: S608
                        f"stock_available) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_PRODUCT_COLUMNS}",
                        [
                            new.sku,
                            new.name,
                            new.description,
                            new.price_minor,
                            new.currency,
                            new.category,
                            new.initial_stock,
                        ],
                    ).fetchone()
            except psycopg.errors.UniqueViolation:
                raise errors.AlreadyExists(f"sku: a product with SKU {new.sku!r} already exists") from None
            assert row is not None
            product = _product(row)
            _notify(conn, product.id, "CREATED", product.version)
            return product

    def get_product(self, product_id: uuid.UUID) -> domain.Product:
        with self.db.tenant_tx() as conn:
            row = conn.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = %s", [product_id]).fetchone()  # noqa: S608
        if row is None:
            raise errors.NotFound(f"product {product_id} not found")
        return _product(row)

    def batch_get(self, ids: list[uuid.UUID]) -> list[domain.Product]:
        with self.db.tenant_tx() as conn:
            rows = conn.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = ANY(%s)", [ids]).fetchall()  # noqa: S608
        return [_product(r) for r in rows]

    def list_products(self, limit: int, after_sku: str | None, category: str | None) -> list[domain.Product]:
        """Keyset page ordered by SKU (unique per tenant, so the cursor is exact)."""
        clauses, params = ["TRUE"], []
        if category:
            clauses.append("category = %s")
            params.append(category)
        if after_sku is not None:
            clauses.append("sku > %s")
            params.append(after_sku)
        query = f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE {' AND '.join(clauses)} ORDER BY sku LIMIT %s"  # noqa: S608
        with self.db.tenant_tx() as conn:
            rows = conn.execute(query.encode(), [*params, limit]).fetchall()
        return [_product(r) for r in rows]

    def search(self, text: str, limit: int, after: tuple[float, str] | None) -> list[tuple[domain.Product, float]]:
        """Ranked full-text search; keyset on (rank DESC, id ASC). ts_rank is float4 and deterministic."""
        params: list[Any] = [text]
        cursor_clause = ""
        if after is not None:
            cursor_clause = "AND (rank < %s::real OR (rank = %s::real AND id > %s::uuid))"
            params += [after[0], after[0], after[1]]
        query = (
            f"SELECT * FROM (SELECT {_PRODUCT_COLUMNS}, ts_rank(search, q) AS rank "  # noqa: S608
            f"FROM products, websearch_to_tsquery('english', %s) q WHERE search @@ q) s "
            f"WHERE TRUE {cursor_clause} ORDER BY rank DESC, id LIMIT %s"
        )
        with self.db.tenant_tx() as conn:
            rows = conn.execute(query.encode(), [*params, limit]).fetchall()
        return [(_product(r), float(r["rank"])) for r in rows]

    def update_product(self, product_id: uuid.UUID, changes: dict[str, Any], expected_version: int) -> domain.Product:
        allowed = {"name", "description", "price_minor", "currency", "category"}
        assert set(changes) <= allowed
        with self.db.tenant_tx() as conn:
            current = conn.execute("SELECT version FROM products WHERE id = %s FOR UPDATE", [product_id]).fetchone()
            if current is None:
                raise errors.NotFound(f"product {product_id} not found")
            if expected_version and current["version"] != expected_version:
                raise errors.Aborted(
                    f"expected_version: product is at version {current['version']}, not {expected_version}"
                )
            sets = ", ".join(f"{col} = %s" for col in changes)
            row = conn.execute(
                f"UPDATE products SET {sets}{', ' if sets else ''}version = version + 1, updated_at = now() "  # noqa: S608
                f"WHERE id = %s RETURNING {_PRODUCT_COLUMNS}".encode(),
                [*changes.values(), product_id],
            ).fetchone()
            assert row is not None
            product = _product(row)
            _notify(conn, product.id, "UPDATED", product.version)
            return product

    def adjust_stock(self, product_id: uuid.UUID, delta: int) -> domain.Product:
        with self.db.tenant_tx() as conn:
            row = conn.execute(
                f"UPDATE products SET stock_available = stock_available + %s, version = version + 1, "  # noqa: S608
                f"updated_at = now() WHERE id = %s AND stock_available + %s >= 0 RETURNING {_PRODUCT_COLUMNS}",
                [delta, product_id, delta],
            ).fetchone()
            if row is None:
                exists = conn.execute("SELECT stock_available FROM products WHERE id = %s", [product_id]).fetchone()
                if exists is None:
                    raise errors.NotFound(f"product {product_id} not found")
                raise errors.FailedPrecondition(
                    f"delta: would take stock below zero (available {exists['stock_available']})"
                )
            product = _product(row)
            _notify(conn, product.id, "STOCK_CHANGED", product.version)
            return product

    # -- reservations --------------------------------------------------------------------------------------

    def _load_reservation(self, conn: Conn, reservation_id: uuid.UUID, lock: bool) -> domain.Reservation | None:
        row = conn.execute(
            f"SELECT id, status, expires_at FROM reservations WHERE id = %s{' FOR UPDATE' if lock else ''}",  # noqa: S608
            [reservation_id],
        ).fetchone()
        if row is None:
            return None
        items = conn.execute(
            "SELECT product_id, quantity FROM reservation_items WHERE reservation_id = %s ORDER BY product_id",
            [reservation_id],
        ).fetchall()
        reservation = domain.Reservation(
            id=row["id"],
            status=row["status"],
            expires_at=row["expires_at"],
            items=tuple((i["product_id"], i["quantity"]) for i in items),
        )
        return reservation

    def reserve(
        self, reservation_id: uuid.UUID, items: tuple[tuple[uuid.UUID, int], ...], ttl_seconds: int
    ) -> domain.Reservation:
        """Take the stock of every item or of none; the answer carries each product's price as of that update.

        One statement, the function reserve_stock (migrations/0002): the reservation row, each item's conditional
        stock update, the item rows and the change events, committed together or not at all.
        """
        fingerprint = domain.request_hash(items)
        products = [pid for pid, _ in items]
        try:
            with self.db.tenant_statement() as (conn, tenant):
                rows = conn.execute(
                    "SELECT * FROM reserve_stock(%s, %s, %s, %s, %s::uuid[], %s::bigint[], %s)",
                    [
                        tenant,
                        reservation_id,
                        fingerprint,
                        ttl_seconds,
                        products,
                        [quantity for _, quantity in items],
                        tenant not in self._known_tenants,
                    ],
                ).fetchall()
        except psycopg.Error as exc:
            if exc.sqlstate != _STOCK_NOT_TAKEN:
                raise
            # Everything the statement did is rolled back; say which item failed and why.
            index = int(exc.diag.message_detail or 0)
            with self.db.tenant_tx() as conn:
                self._refuse_item(conn, index, products[index], items[index][1], products)
        self._known_tenants.add(tenant)  # committed: the tenant row exists from now on
        if not rows:
            with self.db.tenant_tx() as conn:
                return self._replay_reservation(conn, reservation_id, fingerprint)
        # What _load_reservation would read back (items are sorted by product id, as its ORDER BY gives them),
        # without its two queries.
        return domain.Reservation(
            id=reservation_id,
            status="HELD",
            items=items,
            expires_at=rows[0]["hold_expires_at"],
            priced_items=tuple(
                domain.ReservedProduct(
                    row["item_product"],
                    row["item_sku"],
                    row["item_name"],
                    quantity,
                    row["item_price_minor"],
                    row["item_currency"],
                )
                for row, (_, quantity) in zip(rows, items, strict=True)
            ),
        )

    def _refuse_item(
        self, conn: Conn, index: int, product_id: uuid.UUID, quantity: int, requested: list[uuid.UUID]
    ) -> NoReturn:
        """Why the stock of ``items[index]`` could not be taken: unknown product(s), or not enough stock."""
        known = {r["id"] for r in conn.execute("SELECT id FROM products WHERE id = ANY(%s)", [requested]).fetchall()}
        missing = [str(pid) for pid in requested if pid not in known]
        if missing:
            raise errors.NotFound(
                f"unknown product(s): {', '.join(missing)}",
                reason=errors.Reason.UNKNOWN_PRODUCT,
                metadata={"product_ids": ",".join(missing)},
            )
        stock = conn.execute("SELECT stock_available FROM products WHERE id = %s", [product_id]).fetchone()
        available = stock["stock_available"] if stock else 0
        raise errors.FailedPrecondition(
            f"items[{index}]: insufficient stock for product {product_id} "
            f"(requested {quantity}, available {available})",
            reason=errors.Reason.OUT_OF_STOCK,
            metadata={"product_id": str(product_id), "requested": str(quantity), "available": str(available)},
        )

    def _replay_reservation(self, conn: Conn, reservation_id: uuid.UUID, fingerprint: str) -> domain.Reservation:
        """ReserveStock retried with the same id (a lost answer): the reservation as it stands, priced now."""
        existing = conn.execute("SELECT request_hash FROM reservations WHERE id = %s", [reservation_id]).fetchone()
        if existing is None or existing["request_hash"] != fingerprint:
            raise errors.AlreadyExists(f"reservation_id: {reservation_id} was already used for different items")
        found = self._load_reservation(conn, reservation_id, lock=False)
        assert found is not None
        rows = conn.execute(
            "SELECT i.product_id, i.quantity, p.sku, p.name, p.price_minor, p.currency "
            "FROM reservation_items i JOIN products p ON p.id = i.product_id "
            "WHERE i.reservation_id = %s ORDER BY i.product_id",
            [reservation_id],
        ).fetchall()
        priced = tuple(
            domain.ReservedProduct(r["product_id"], r["sku"], r["name"], r["quantity"], r["price_minor"], r["currency"])
            for r in rows
        )
        return dataclasses.replace(found, priced_items=priced)

    def commit(self, reservation_id: uuid.UUID) -> domain.Reservation:
        failed = self.commit_many([reservation_id])[1]
        if failed:
            raise failed[0].error()
        with self.db.tenant_tx() as conn:
            current = self._load_reservation(conn, reservation_id, lock=False)
        assert current is not None  # committed just now, and reservations are never deleted
        return current

    def commit_many(self, reservation_ids: list[uuid.UUID]) -> tuple[list[uuid.UUID], list[domain.CommitFailure]]:
        """Commit HELD, unexpired reservations in one transaction; report the others one by one.

        One statement does the usual case: the reservations become COMMITTED and the stock of their items moves
        from reserved to committed (summed per product: several reservations may hold the same product, and an
        UPDATE ... FROM applies one joined row per target row). The row locks of the UPDATE serialise it against
        a concurrent release, return or sweep: one that got the row first leaves it RELEASED, EXPIRED or RETURNED,
        which the UPDATE (re-checking ``status = 'HELD'`` on the newest row) then skips and the answer reports as
        failed. Already COMMITTED ids count as committed (idempotent).
        """
        wanted = list(dict.fromkeys(reservation_ids))
        with self.db.tenant_tx() as conn:
            rows = conn.execute(
                "WITH r AS (UPDATE reservations SET status = 'COMMITTED', updated_at = now() "
                "           WHERE id = ANY(%s) AND status = 'HELD' AND expires_at >= now() RETURNING id), "
                "s AS (SELECT i.product_id, sum(i.quantity) AS q FROM reservation_items i JOIN r "
                "      ON i.reservation_id = r.id GROUP BY i.product_id), "
                "m AS (UPDATE products p SET stock_reserved = p.stock_reserved - s.q, "
                "      stock_committed = p.stock_committed + s.q, updated_at = now() FROM s WHERE p.id = s.product_id "
                "      RETURNING p.id) "
                "SELECT id FROM r",
                [wanted],
            ).fetchall()
            done = {r["id"] for r in rows}
            rest = [rid for rid in wanted if rid not in done]
            failed: list[domain.CommitFailure] = []
            if rest:
                found = {
                    r["id"]: r["status"]
                    for r in conn.execute("SELECT id, status FROM reservations WHERE id = ANY(%s)", [rest]).fetchall()
                }
                for rid in rest:
                    status = found.get(rid)
                    if status == "COMMITTED":
                        done.add(rid)
                    else:
                        # HELD here means past its expiry (now() is fixed for the transaction): not committable.
                        failed.append(domain.CommitFailure(rid, status))
        return [rid for rid in wanted if rid in done], failed

    def release(self, reservation_id: uuid.UUID) -> domain.Reservation:
        """HELD -> RELEASED: the compensation of a placement that was never accepted (HELD stock only).

        A COMMITTED reservation is refused: it belongs to an accepted order (a placement thought abandoned may have
        been accepted meanwhile), and its stock comes back only when that order is cancelled (ReturnReservation).
        """
        return self._give_back(reservation_id, committed_too=False)

    def return_reservation(self, reservation_id: uuid.UUID) -> domain.Reservation:
        """Give back whatever stock the reservation still takes: HELD -> RELEASED, COMMITTED -> RETURNED.

        For an order that is cancelled, whatever its reservation's state. Why an RPC of its own rather than
        ReleaseReservation accepting COMMITTED ones: ReleaseReservation is the compensation of a placement that was
        never accepted, and its refusal of COMMITTED stock is what keeps an accepted order's stock when the orders
        sweep compensates a placement it wrongly thought abandoned; cancel, in contrast, must give the stock back in
        either state, and cannot know which one catalog is in (orders records COMMITTED only after catalog
        committed, and its committer may be committing this very reservation). One call that accepts both keeps
        orders simple (no release-then-return dance on a stale state) and the race safe: the row lock taken here
        and the one CommitReservations' UPDATE takes serialise the two. Commit first: this returns the committed
        stock (RETURNED). This first: the reservation is RELEASED and the commit reports it failed; orders' committer
        then finds the order already cancelled. Either way the stock is back once.

        Exactly once: the stock moves in the transaction that takes the reservation out of HELD or COMMITTED, and a
        reservation already given back (RELEASED, EXPIRED, RETURNED) is answered as it is, so a retry moves nothing.
        """
        return self._give_back(reservation_id, committed_too=True)

    def _give_back(self, reservation_id: uuid.UUID, *, committed_too: bool) -> domain.Reservation:
        """HELD -> RELEASED, and COMMITTED -> RETURNED where ``committed_too``; one already given back as it is."""
        with self.db.tenant_tx() as conn:
            current = self._load_reservation(conn, reservation_id, lock=True)
            if current is None:
                raise errors.NotFound(f"reservation {reservation_id} not found")
            if current.status in domain.GIVEN_BACK:
                return current  # its stock is back already: a retry, or a cancel that returned it
            if current.status == domain.HELD:
                self._return_stock(conn, [reservation_id])
                status = domain.RELEASED
            elif current.status == domain.COMMITTED and committed_too:
                self._return_stock(conn, [reservation_id], from_committed=True)
                status = domain.RETURNED
            elif current.status == domain.COMMITTED:
                raise errors.FailedPrecondition(
                    f"reservation {reservation_id} is COMMITTED, not HELD: ReleaseReservation gives back held stock "
                    "only (ReturnReservation gives back the stock of a cancelled order)"
                )
            else:  # the CHECK constraint admits no other status
                raise errors.FailedPrecondition(f"reservation {reservation_id} is in unknown state {current.status}")
            conn.execute(
                "UPDATE reservations SET status = %s, updated_at = now() WHERE id = %s", [status, reservation_id]
            )
            return domain.Reservation(current.id, status, current.items, current.expires_at)

    def _return_stock(self, conn: Conn, reservation_ids: list[uuid.UUID], from_committed: bool = False) -> None:
        """Move the items' stock back to available: from reserved (HELD ones) or from committed (COMMITTED ones)."""
        source = "stock_committed" if from_committed else "stock_reserved"
        rows = conn.execute(
            f"UPDATE products p SET stock_available = p.stock_available + s.q, "  # noqa: S608
            f"{source} = p.{source} - s.q, version = p.version + 1, updated_at = now() "
            "FROM (SELECT product_id, sum(quantity) AS q FROM reservation_items "
            "      WHERE reservation_id = ANY(%s) GROUP BY product_id) s "
            "WHERE p.id = s.product_id RETURNING p.id, p.version",
            [reservation_ids],
        ).fetchall()
        for row in rows:
            _notify(conn, row["id"], "STOCK_CHANGED", int(row["version"]))

    def sweep_expired(self, tenant_id: str, batch: int = 500) -> int:
        """Expire HELD reservations past their deadline for one tenant; SKIP LOCKED lets replicas share work."""
        with tenancy.tenant_context(tenant_id), self.db.tenant_tx(tenant_id) as conn:
            expired = conn.execute(
                "WITH due AS (SELECT id FROM reservations WHERE status = 'HELD' AND expires_at < now() "
                "             ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                "UPDATE reservations r SET status = 'EXPIRED', updated_at = now() FROM due "
                "WHERE r.id = due.id RETURNING r.id",
                [batch],
            ).fetchall()
            ids = [r["id"] for r in expired]
            if ids:
                self._return_stock(conn, ids)
            return len(ids)

    def tenants(self) -> list[str]:
        with self.db.global_tx() as conn:
            return [str(r["tenant_id"]) for r in conn.execute("SELECT tenant_id FROM catalog_tenants").fetchall()]

    def stock_totals(self, product_id: uuid.UUID) -> dict[str, int]:
        """available / reserved / committed of one product (tests and diagnostics)."""
        with self.db.tenant_tx() as conn:
            row = conn.execute(
                "SELECT stock_available, stock_reserved, stock_committed FROM products WHERE id = %s", [product_id]
            ).fetchone()
        if row is None:
            raise errors.NotFound(f"product {product_id} not found")
        return {k: int(v) for k, v in row.items()}
