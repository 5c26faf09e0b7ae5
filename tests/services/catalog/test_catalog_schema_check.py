"""catalog refuses to serve a schema older than the migrations it ships (the migrate Job has not run yet)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from services.catalog.__main__ import main as catalog_main
from services.catalog.app import MIGRATIONS
from services.common.pg_migrate import missing_versions, with_credentials
from services.common.server import ShopServer
from services.common.settings import ConfigError
from tests.services import schema_check
from tests.services.catalog.catalog_support import CatalogDb, start_catalog
from tests.services.pg_server import PgServer


def _start(app_url: str, admin_url: str, tmp_path: Path) -> ShopServer:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    return start_catalog(CatalogDb(admin_url, app_url), secrets)


def test_missing_version_not_ready_until_migrated(
    pg_server_factory: Callable[[], PgServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schema_check.not_ready_until_migrated(MIGRATIONS, "catalog_app", _start, pg_server_factory(), tmp_path, caplog)


def test_fresh_database_misses_every_version(pg_server: PgServer) -> None:
    schema_check.fresh_database_misses_every_version(MIGRATIONS, pg_server)


def test_app_role_reads_the_history_but_cannot_write_it(pg_server: PgServer) -> None:
    schema_check.app_role_reads_the_history_but_cannot_write_it(MIGRATIONS, "catalog_app", pg_server)


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
