"""Users test fixtures: a migrated database, the app role, secrets and an in-process users gRPC server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from services.common.pg_migrate import provision
from services.common.server import ShopServer
from services.common.settings import Secrets, Settings
from services.protos.gen.shop.users.v1 import users_pb2_grpc
from services.users.app import MIGRATIONS, build
from services.users.passwords import Passwords
from tests.services.pg_server import PgServer

ADMIN_TOKEN = "users-admin-" + uuid.uuid4().hex


@dataclass
class UsersDb:
    admin_url: str
    app_url: str


@pytest.fixture(scope="module")
def users_db(pg_server: PgServer) -> UsersDb:
    name = pg_server.create_database()
    role = f"users_app_{uuid.uuid4().hex[:8]}"
    provision(pg_server.url(name), MIGRATIONS, role, "app-pw")
    return UsersDb(pg_server.url(name), pg_server.url(name, role, "app-pw"))


def write_users_secrets(secrets_dir: Path) -> Path:
    """The secrets a users server reads: the admin token and the JWT key material."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    (secrets_dir / "admin-token").write_text(ADMIN_TOKEN)
    (secrets_dir / "jwt-keys").write_text(uuid.uuid4().hex + uuid.uuid4().hex)
    return secrets_dir


def users_settings(database_url: str, secrets_dir: Path, health_interval_seconds: float = 0.2) -> Settings:
    return Settings(
        service="users",
        grpc_port=0,
        http_port=0,
        grpc_host="127.0.0.1",
        database_url=database_url,
        secrets_dir=secrets_dir,
        secrets=Secrets(secrets_dir),
        health_interval_seconds=health_interval_seconds,
    )


def start_users(database_url: str, secrets_dir: Path) -> ShopServer:
    """A started users server on ``database_url`` with the secrets in ``secrets_dir`` (written here)."""
    settings = users_settings(database_url, write_users_secrets(secrets_dir))
    # OWASP's minimum argon2id profile (19 MiB, t=2) keeps the suite fast but the cost still measurable.
    server = build(settings, passwords=Passwords(time_cost=2, memory_cost_kib=19456, parallelism=1))
    server.start()
    return server


@pytest.fixture(scope="module")
def users_server(users_db: UsersDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    server = start_users(users_db.app_url, tmp_path_factory.mktemp("users-secrets"))
    yield server
    server.stop(grace=1)


@pytest.fixture(scope="module")
def users_stub(users_server: ShopServer) -> Iterator[users_pb2_grpc.UsersServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{users_server.port}")
    yield users_pb2_grpc.UsersServiceStub(channel)  # type: ignore[no-untyped-call]
    channel.close()


def md(tenant: str | None, *, admin: bool = False, bearer: str | None = None) -> tuple[tuple[str, str], ...]:
    entries: list[tuple[str, str]] = []
    if tenant:
        entries.append(("x-tenant-id", tenant))
    if admin:
        entries.append(("x-admin-token", ADMIN_TOKEN))
    if bearer:
        entries.append(("authorization", f"Bearer {bearer}"))
    return tuple(entries)
