"""Shared checks for services that refuse to serve a schema older than the migrations they ship (catalog, users).

Each service's test file passes its migrations directory and how to start it; the assertions live here once.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from grpc_health.v1 import health_pb2

from services.common.pg_migrate import grant_app_role, load_migrations, migrate, missing_versions, provision
from services.common.server import ShopServer
from tests.services.pg_server import PgServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

# start(app_url, admin_url, tmp_path) -> a started server of the service under test
StartService = Callable[[str, str, Path], ShopServer]


def shipped(migrations: Path) -> list[int]:
    return [m.version for m in load_migrations(migrations)]


def older_release(migrations: Path, tmp_path: Path) -> Path:
    """The migrations directory of the previous release: every shipped file but the newest."""
    old = tmp_path / "old-migrations"
    old.mkdir()
    for path in sorted(migrations.glob("*.sql"))[:-1]:
        shutil.copy(path, old / path.name)
    return old


def wait_status(server: ShopServer, want: int, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.health._server_status.get("") == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"health stayed {server.health._server_status.get('')}, wanted {want}")


def wait_failing(server: ShopServer, want: set[str], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and server.failing_dependencies != want:
        time.sleep(0.05)
    assert server.failing_dependencies == want


def not_ready_until_migrated(
    migrations: Path,
    role_prefix: str,
    start: StartService,
    pg: PgServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On the previous release's schema: NOT_SERVING, naming the missing version; after migrate: SERVING."""
    versions = shipped(migrations)
    assert len(versions) >= 2, "the scenario needs an older release to migrate from"
    name = pg.create_database()
    role = f"{role_prefix}_{uuid.uuid4().hex[:8]}"
    admin_url = pg.url(name)
    provision(admin_url, older_release(migrations, tmp_path), role, "app-pw")  # as the last release left it
    caplog.set_level(logging.WARNING, logger="services.common.server")
    server = start(pg.url(name, role, "app-pw"), admin_url, tmp_path)
    try:
        wait_failing(server, {"schema"})
        wait_status(server, NOT_SERVING)
        newest = f"{versions[-1]:04d}"
        messages = [str(getattr(r, "error", "")) for r in caplog.records if getattr(r, "dependency", "") == "schema"]
        assert any(f"migration(s) {newest} not applied" in m for m in messages), messages

        # The migrate Job: the owner applies the new migration and re-grants the app role.
        assert migrate(admin_url, migrations) == [versions[-1]]
        grant_app_role(admin_url, role, None)
        wait_failing(server, set())
        wait_status(server, SERVING)
    finally:
        server.stop(grace=1)


def fresh_database_misses_every_version(migrations: Path, pg: PgServer) -> None:
    name = pg.create_database()
    with psycopg.connect(pg.url(name), autocommit=True) as conn:
        assert missing_versions(conn, migrations) == shipped(migrations)


def app_role_reads_the_history_but_cannot_write_it(migrations: Path, role_prefix: str, pg: PgServer) -> None:
    name = pg.create_database()
    role = f"{role_prefix}_{uuid.uuid4().hex[:8]}"
    provision(pg.url(name), migrations, role, "app-pw")
    with psycopg.connect(pg.url(name, role, "app-pw"), autocommit=True) as conn:
        assert missing_versions(conn, migrations) == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM schema_migrations")
