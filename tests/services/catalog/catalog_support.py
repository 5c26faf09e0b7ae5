"""Catalog test fixtures: a migrated database, the app role, and an in-process catalog gRPC server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from services.catalog.app import MIGRATIONS, build
from services.common.pg_migrate import provision
from services.common.server import ShopServer
from services.common.settings import Secrets, Settings
from services.protos.gen.shop.catalog.v1 import catalog_pb2_grpc
from tests.services.pg_server import PgServer

ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex


@dataclass
class CatalogDb:
    admin_url: str
    app_url: str


def provision_catalog(pg: PgServer) -> CatalogDb:
    name = pg.create_database()
    role = f"catalog_app_{uuid.uuid4().hex[:8]}"
    provision(pg.url(name), MIGRATIONS, role, "app-pw")
    return CatalogDb(pg.url(name), pg.url(name, role, "app-pw"))


def start_catalog(db: CatalogDb, secrets_dir: Path, **kwargs: float) -> ShopServer:
    (secrets_dir / "admin-token").write_text(ADMIN_TOKEN + "\n")
    settings = Settings(
        service="catalog",
        grpc_port=0,
        http_port=0,
        grpc_host="127.0.0.1",
        database_url=db.app_url,
        secrets_dir=secrets_dir,
        secrets=Secrets(secrets_dir),
        health_interval_seconds=0.2,
    )
    server = build(settings, sweep_interval=kwargs.get("sweep_interval", 3600.0))
    server.start()
    return server


@pytest.fixture(scope="module")
def catalog_db(pg_server: PgServer) -> CatalogDb:
    return provision_catalog(pg_server)


@pytest.fixture(scope="module")
def catalog_server(catalog_db: CatalogDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    server = start_catalog(catalog_db, tmp_path_factory.mktemp("catalog-secrets"))
    yield server
    server.stop(grace=1)


@pytest.fixture(scope="module")
def stub(catalog_server: ShopServer) -> Iterator[catalog_pb2_grpc.CatalogServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{catalog_server.port}")
    yield catalog_pb2_grpc.CatalogServiceStub(channel)  # type: ignore[no-untyped-call]
    channel.close()


def md(tenant: str, admin: bool = False) -> tuple[tuple[str, str], ...]:
    entries = [("x-tenant-id", tenant)]
    if admin:
        entries.append(("x-admin-token", ADMIN_TOKEN))
    return tuple(entries)
