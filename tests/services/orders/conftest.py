"""Fixtures for orders tests: a real nx-27017 server, a fake catalog (unit tests), an in-process orders server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest

from services.common.settings import Settings
from services.orders.app import OrdersApp, build
from services.orders.settings import OrdersSettings
from services.protos.gen.shop.orders.v1 import orders_pb2_grpc
from tests.services.mongo_server import mongo_url  # noqa: F401  (fixture)
from tests.services.orders.fake_catalog import FakeCatalogState, serve_fake_catalog


@dataclass
class OrdersHandle:
    app: OrdersApp
    addr: str
    stub: orders_pb2_grpc.OrdersServiceStub
    channel: grpc.Channel
    database: str


def start_orders(mongo: str, catalog_addr: str, database: str, **overrides: object) -> OrdersHandle:
    common = Settings.from_env(
        "orders",
        {
            "SHOP_GRPC_PORT": "0",
            "SHOP_HTTP_PORT": "0",
            "SHOP_GRPC_HOST": "127.0.0.1",
            "SHOP_HEALTH_INTERVAL_SECONDS": "0.5",
            "SHOP_SHUTDOWN_GRACE_SECONDS": "1",
        },
    )
    base = OrdersSettings(mongo_url=mongo, mongo_database=database, catalog_addr=catalog_addr, mongo_timeout_ms=1500)
    settings = OrdersSettings(**{**base.__dict__, **overrides})  # type: ignore[arg-type]
    app = build(common, settings)
    port = app.server.start()
    addr = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(addr)
    return OrdersHandle(app, addr, orders_pb2_grpc.OrdersServiceStub(channel), channel, database)


@pytest.fixture
def fake_catalog() -> Iterator[tuple[FakeCatalogState, str]]:
    state = FakeCatalogState()
    gen = serve_fake_catalog(state)
    addr = next(gen)
    yield state, addr
    with pytest.raises(StopIteration):
        next(gen)


@pytest.fixture
def orders_factory(mongo_url: str) -> Iterator[Callable[..., OrdersHandle]]:  # noqa: F811
    started: list[OrdersHandle] = []

    def factory(catalog_addr: str, database: str | None = None, **overrides: object) -> OrdersHandle:
        handle = start_orders(mongo_url, catalog_addr, database or f"orders_{uuid.uuid4().hex[:8]}", **overrides)
        started.append(handle)
        return handle

    yield factory
    for h in started:
        h.channel.close()
        h.app.server.stop(0)


def md(tenant: str, user: str = "", role: str = "") -> list[tuple[str, str]]:
    out = [("x-tenant-id", tenant)]
    if user:
        out.append(("x-user-id", user))
    if role:
        out.append(("x-user-role", role))
    return out
