"""PostgreSQL access with row-level security: every transaction runs as one tenant.

The service connects as a role that owns no table and has no BYPASSRLS, so the RLS policies
(``tenant_id = current_setting('app.tenant_id')``) always apply. ``tenant_tx`` sets ``app.tenant_id`` with
``set_config(..., is_local => true)`` (the parameterisable form of SET LOCAL) so it ends with the transaction and
can never leak to the next user of a pooled connection. Only catalog and users import this (they carry psycopg).
"""

from __future__ import annotations

import contextlib
import logging
import select
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from services.common import tenancy
from services.common.settings import ConfigError, redact_url

log = logging.getLogger(__name__)
Conn = psycopg.Connection[dict[str, Any]]


def check_pooled_connection(conn: Conn) -> None:
    """The pool's checkout check, a round trip only when something is waiting on the socket.

    An idle connection that the server closed (restart, failover, idle timeout) has its error message or EOF
    waiting to be read; a healthy idle one has nothing. So a zero-timeout poll of the socket tells them apart
    for free, and only a suspicious connection pays ``check_connection`` (which raises, and the pool replaces it).
    Checking every checkout with a round trip cost one of the five statements of a reservation.
    """
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


class Database:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, name: str = "db") -> None:
        self.url = url
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": False},
            # A connection broken by a database restart is noticed at checkout rather than by the next query.
            check=check_pooled_connection,
            timeout=10,
            name=name,
            open=False,
        )

    def open(self, wait: bool = True) -> None:
        self.pool.open(wait=wait, timeout=15)

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def tenant_tx(self, tenant_id: str | None = None) -> Iterator[Conn]:
        """A transaction scoped to ``tenant_id`` (default: the request's tenant from the interceptor)."""
        tenant = tenant_id or tenancy.current_tenant()
        if not tenancy.is_valid_tenant_id(tenant):
            raise ValueError(f"invalid tenant id {tenant!r}")
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", [tenant])
            yield conn

    @contextlib.contextmanager
    def tenant_statement(self, tenant_id: str | None = None) -> Iterator[tuple[Conn, str]]:
        """A pooled connection in autocommit mode, for one statement that is its own transaction: one round trip
        instead of BEGIN, set_config, the statement and COMMIT. Only for a function that scopes itself to the
        tenant it is given (catalog's reserve_stock sets app.tenant_id locally, as ``tenant_tx`` does); a plain
        statement here would run with no tenant and RLS would hide every row. Yields the connection and the
        validated tenant id to pass to that function."""
        tenant = tenant_id or tenancy.current_tenant()
        if not tenancy.is_valid_tenant_id(tenant):
            raise ValueError(f"invalid tenant id {tenant!r}")
        with self.pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn, tenant
            finally:
                if not conn.closed:
                    conn.autocommit = False  # pooled connections are otherwise transactional

    @contextlib.contextmanager
    def global_tx(self) -> Iterator[Conn]:
        """A transaction with no tenant: RLS then hides every tenant row; only global tables are usable."""
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    def ping(self, timeout: float = 2.0) -> bool:
        """The health check: a round trip within ``timeout`` seconds."""
        with self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")
            conn.rollback()
        return True

    def assert_cannot_bypass_rls(self, timeout: float = 10.0) -> None:
        """Refuse to serve as a role for which the tenant policies would not apply."""
        with self.pool.connection(timeout=timeout) as conn, conn.transaction():
            row = conn.execute(
                "SELECT r.rolsuper, r.rolbypassrls, "
                "(SELECT count(*) FROM pg_tables t WHERE t.tableowner = current_user "
                " AND t.schemaname = 'public') AS owned "
                "FROM pg_roles r WHERE r.rolname = current_user"
            ).fetchone()
        if row is None:
            raise ConfigError("cannot read the database role's attributes")
        if row["rolsuper"] or row["rolbypassrls"] or int(str(row["owned"])) > 0:
            raise ConfigError(
                f"the database role in {redact_url(self.url)} is a superuser, has BYPASSRLS or owns tables; "
                "serve with the application role created by `migrate --app-role` so row-level security applies"
            )
