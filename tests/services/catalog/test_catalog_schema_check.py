"""catalog refuses to serve a schema older than the migrations it ships (the migrate Job has not run yet)."""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from grpc_health.v1 import health_pb2

from services.catalog.__main__ import main as catalog_main
from services.catalog.app import MIGRATIONS
from services.common.pg_migrate import (
    grant_app_role,
    load_migrations,
    migrate,
    missing_versions,
    provision,
    with_credentials,
)
from services.common.server import ShopServer
from services.common.settings import ConfigError
from tests.services.catalog.catalog_support import CatalogDb, start_catalog
from tests.services.pg_server import PgServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SHIPPED = [m.version for m in load_migrations(MIGRATIONS)]


def older_release(tmp_path: Path) -> Path:
    """The migrations directory of the previous release: every shipped file but the newest."""
    old = tmp_path / "old-migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql"))[:-1]:
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


def test_ships_more_than_one_migration() -> None:
    assert len(SHIPPED) >= 2, "the scenario needs an older release to migrate from"


def test_missing_version_not_ready_until_migrated(
    pg_server_factory: Callable[[], PgServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pg = pg_server_factory()
    name = pg.create_database()
    role = f"catalog_app_{uuid.uuid4().hex[:8]}"
    admin_url = pg.url(name)
    provision(admin_url, older_release(tmp_path), role, "app-pw")  # the database as the last release left it
    db = CatalogDb(admin_url, pg.url(name, role, "app-pw"))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    caplog.set_level(logging.WARNING, logger="services.common.server")
    server = start_catalog(db, secrets)
    try:
        wait_failing(server, {"schema"})
        wait_status(server, NOT_SERVING)
        newest = f"{SHIPPED[-1]:04d}"
        messages = [str(getattr(r, "error", "")) for r in caplog.records if getattr(r, "dependency", "") == "schema"]
        assert any(f"migration(s) {newest} not applied" in m for m in messages), messages

        # The migrate Job: the owner applies the new migration and re-grants the app role.
        assert migrate(admin_url, MIGRATIONS) == [SHIPPED[-1]]
        grant_app_role(admin_url, role, None)
        wait_failing(server, set())
        wait_status(server, SERVING)
    finally:
        server.stop(grace=1)


def test_fresh_database_misses_every_version(pg_server: PgServer) -> None:
    name = pg_server.create_database()
    with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
        assert missing_versions(conn, MIGRATIONS) == SHIPPED


def test_app_role_reads_the_history_but_cannot_write_it(pg_server: PgServer) -> None:
    name = pg_server.create_database()
    role = f"catalog_app_{uuid.uuid4().hex[:8]}"
    provision(pg_server.url(name), MIGRATIONS, role, "app-pw")
    with psycopg.connect(pg_server.url(name, role, "app-pw"), autocommit=True) as conn:
        assert missing_versions(conn, MIGRATIONS) == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM schema_migrations")


def test_migrate_command_with_the_owner_secret_file(pg_server: PgServer, tmp_path: Path) -> None:
    """What the migrate Job runs: the admin URL without credentials plus the RDS master secret as a JSON file."""
    owner = pg_server.create_role(f"owner_{uuid.uuid4().hex[:8]}", "pw-with@odd/chars:%")
    pg_server.psql(f'ALTER ROLE "{owner}" CREATEROLE')  # like the RDS master user: no superuser
    name = pg_server.create_database(owner=owner)
    creds = tmp_path / "owner.json"
    creds.write_text(json.dumps({"username": owner, "password": "pw-with@odd/chars:%", "engine": "postgres"}))
    role = f"catalog_{uuid.uuid4().hex[:8]}"
    (tmp_path / "app-pw").write_text("app-pw\n")
    argv = ["migrate", "--admin-url", f"postgresql://127.0.0.1:{pg_server.port}/{name}"]
    argv += [
        "--admin-credentials-file",
        str(creds),
        "--app-role",
        role,
        "--app-password-file",
        str(tmp_path / "app-pw"),
    ]
    assert catalog_main(argv) == 0
    with psycopg.connect(pg_server.url(name, role, "app-pw"), autocommit=True) as conn:
        assert missing_versions(conn, MIGRATIONS) == []
        owners = conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert owners == [(owner,)]


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        "[]",
        '{"username": "a"}',
        '{"username": "", "password": "x"}',
        '{"username": 1, "password": "x"}',
    ],
)
def test_bad_owner_secret_file_is_a_config_error(tmp_path: Path, content: str) -> None:
    creds = tmp_path / "owner.json"
    creds.write_text(content)
    with pytest.raises(ConfigError):
        with_credentials("postgresql://db.example:5432/catalog", creds)
    with pytest.raises(ConfigError):
        with_credentials("postgresql://db.example:5432/catalog", tmp_path / "absent.json")
