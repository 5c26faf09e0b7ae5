"""users refuses to serve a schema older than the migrations it ships (the migrate Job has not run yet)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from services.common.server import ShopServer
from services.users.app import MIGRATIONS
from tests.services import schema_check
from tests.services.pg_server import PgServer
from tests.services.users.users_support import start_users


def _start(app_url: str, admin_url: str, tmp_path: Path) -> ShopServer:
    return start_users(app_url, tmp_path / "secrets")


def test_missing_version_not_ready_until_migrated(
    pg_server_factory: Callable[[], PgServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schema_check.not_ready_until_migrated(MIGRATIONS, "users_app", _start, pg_server_factory(), tmp_path, caplog)


def test_fresh_database_misses_every_version(pg_server: PgServer) -> None:
    schema_check.fresh_database_misses_every_version(MIGRATIONS, pg_server)


def test_app_role_reads_the_history_but_cannot_write_it(pg_server: PgServer) -> None:
    schema_check.app_role_reads_the_history_but_cannot_write_it(MIGRATIONS, "users_app", pg_server)
