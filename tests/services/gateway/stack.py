"""A real shop behind the gateway for tests: PostgreSQL, nx-27017, Redis, catalog, users, orders (in-process gRPC
servers), a TCP switch in front of catalog (to take it "down" and back) and the gateway on a real HTTP port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import uvicorn

from services.common.settings import Secrets, Settings
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.orders.app import build as build_orders
from services.orders.settings import OrdersSettings
from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from services.protos.gen.shop.users.v1 import users_pb2, users_pb2_grpc
from services.runner.procs import free_port
from services.users.app import MIGRATIONS as USERS_MIGRATIONS
from services.users.app import build as build_users
from services.users.passwords import Passwords
from tests.services.catalog.catalog_support import ADMIN_TOKEN as CATALOG_ADMIN_TOKEN
from tests.services.catalog.catalog_support import provision_catalog, start_catalog
from tests.services.pg_server import PgServer
from tests.services.redis_server import RedisServer

TENANTS = ("shop-a", "shop-b")
USERS_ADMIN_TOKEN = "users-admin-" + uuid.uuid4().hex
ADMIN_PASSWORD = "admin-password-" + uuid.uuid4().hex[:8]


class TcpSwitch:
    """A TCP forwarder that can be switched off (existing connections are cut, new ones refused)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._on = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closed = False
        self.up()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed:
            listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                time.sleep(0.02)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._conns -= {src, dst}

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = set(self._conns), set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def up(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener

    def close(self) -> None:
        self._closed = True
        self.down()


class GatewayServer:
    """The gateway app under uvicorn in a thread, on a real port (the frontend tests talk HTTP to it)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, tenant: str | None = "shop-a", **kwargs: Any) -> httpx.Client:
        headers = {"X-Tenant": tenant} if tenant else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=15, **kwargs)

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the gateway's event loop (the thread uvicorn runs in)."""
        return asyncio.run_coroutine_threadsafe(coro, self.app.state.loop).result(10)

    def watching(self, tenant: str, timeout: float = 10.0) -> None:
        """Wait until the gateway's change stream for ``tenant`` is connected (its RESYNC already applied)."""
        with self.client(tenant) as c:
            c.get("/v1/products", params={"limit": 1})  # the first request of a tenant starts its watcher
        deadline = time.monotonic() + timeout
        while not self.app.state.gateway.watcher.connected.get(tenant):
            if time.monotonic() > deadline:
                raise AssertionError(f"change stream of {tenant} not connected")
            time.sleep(0.05)
        time.sleep(0.1)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Stack:
    catalog_switch: TcpSwitch
    catalog_port: int
    users_addr: str
    orders_addr: str
    redis: RedisServer
    secrets_dir: Path
    admins: dict[str, dict[str, Any]] = field(default_factory=dict)
    product_ids: dict[str, list[str]] = field(default_factory=dict)
    stoppers: list[Any] = field(default_factory=list)

    def gateway_settings(self, **overrides: Any) -> GatewaySettings:
        common = Settings(
            service="gateway", grpc_port=0, http_port=0, secrets_dir=self.secrets_dir, secrets=Secrets(self.secrets_dir)
        )
        base: dict[str, Any] = {
            "common": common,
            "http_port": 0,
            "redis_url": self.redis.url,
            "catalog_addr": self.catalog_switch.addr,
            "users_addr": self.users_addr,
            "orders_addr": self.orders_addr,
            "client_rate_per_s": 1000.0,
            "client_burst": 2000.0,
            "tenant_rate_per_s": 1000.0,
            "tenant_burst": 2000.0,
            "breaker_reset_s": 0.5,
            "read_timeout_s": 1.0,
            "jwks_min_refresh_interval_s": 0.2,
        }
        base.update(overrides)
        return GatewaySettings(**base)

    def catalog_stub(self) -> tuple[grpc.Channel, catalog_pb2_grpc.CatalogServiceStub]:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.catalog_port}")
        return channel, catalog_pb2_grpc.CatalogServiceStub(channel)  # type: ignore[no-untyped-call]

    def update_product(self, tenant: str, product_id: str, name: str) -> None:
        channel, stub = self.catalog_stub()
        with channel:
            stub.UpdateProduct(
                catalog_pb2.UpdateProductRequest(product_id=product_id, name=name),
                metadata=(("x-tenant-id", tenant), ("x-admin-token", CATALOG_ADMIN_TOKEN)),
                timeout=10,
            )


def build_stack(pg: PgServer, mongo_url: str, redis: RedisServer, tmp: Path) -> Stack:
    stoppers: list[Any] = []
    catalog = start_catalog(provision_catalog(pg), _mkdir(tmp / "catalog-secrets"))
    stoppers.append(lambda: catalog.stop(grace=0.5))
    switch = TcpSwitch(("127.0.0.1", catalog.port))
    stoppers.append(switch.close)

    from services.common.pg_migrate import provision

    users_dbname = pg.create_database()
    role = f"users_app_{uuid.uuid4().hex[:8]}"
    provision(pg.url(users_dbname), USERS_MIGRATIONS, role, "app-pw")
    users_secrets = _mkdir(tmp / "users-secrets")
    (users_secrets / "admin-token").write_text(USERS_ADMIN_TOKEN)
    (users_secrets / "jwt-keys").write_text(uuid.uuid4().hex + uuid.uuid4().hex)
    users_settings = Settings(
        service="users",
        grpc_port=0,
        http_port=0,
        grpc_host="127.0.0.1",
        database_url=pg.url(users_dbname, role, "app-pw"),
        secrets_dir=users_secrets,
        secrets=Secrets(users_secrets),
        health_interval_seconds=0.5,
    )
    users = build_users(users_settings, passwords=Passwords(time_cost=1, memory_cost_kib=8192, parallelism=1))
    users.start()
    stoppers.append(lambda: users.stop(grace=0.5))

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
    orders = build_orders(
        common,
        OrdersSettings(
            mongo_url=mongo_url,
            mongo_database=f"orders_{uuid.uuid4().hex[:8]}",
            catalog_addr=switch.addr,
            mongo_timeout_ms=1500,
        ),
    )
    orders_port = orders.server.start()
    stoppers.append(lambda: orders.server.stop(0))

    gw_secrets = _mkdir(tmp / "gateway-secrets")
    (gw_secrets / "catalog-admin-token").write_text(CATALOG_ADMIN_TOKEN)
    stack = Stack(
        switch,
        catalog.port,
        f"127.0.0.1:{users.port}",
        f"127.0.0.1:{orders_port}",
        redis,
        gw_secrets,
        stoppers=stoppers,
    )
    with (
        grpc.insecure_channel(f"127.0.0.1:{users.port}") as uch,
        grpc.insecure_channel(f"127.0.0.1:{catalog.port}") as cch,
    ):
        ustub = users_pb2_grpc.UsersServiceStub(uch)  # type: ignore[no-untyped-call]
        cstub = catalog_pb2_grpc.CatalogServiceStub(cch)  # type: ignore[no-untyped-call]
        for tenant in TENANTS:
            email = f"admin@{tenant}.example.com"
            ustub.CreateTenant(
                users_pb2.CreateTenantRequest(
                    tenant_id=tenant, display_name=tenant, admin_email=email, admin_password=ADMIN_PASSWORD
                ),
                metadata=(("x-admin-token", USERS_ADMIN_TOKEN),),
                timeout=20,
            )
            stack.admins[tenant] = {"email": email, "password": ADMIN_PASSWORD}
            md = (("x-tenant-id", tenant), ("x-admin-token", CATALOG_ADMIN_TOKEN))
            cstub.SeedDemoCatalog(catalog_pb2.SeedDemoCatalogRequest(), metadata=md, timeout=20)
            page = cstub.ListProducts(catalog_pb2.ListProductsRequest(page_size=100), metadata=md, timeout=10)
            stack.product_ids[tenant] = [p.id for p in page.products]
    return stack


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def stack(
    pg_server: PgServer, mongo_url: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    s = build_stack(pg_server, mongo_url, redis_server, tmp_path_factory.mktemp("stack"))
    yield s
    for stop in reversed(s.stoppers):
        with contextlib.suppress(Exception):
            stop()


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[GatewayServer]:
    server = GatewayServer(stack.gateway_settings())
    yield server
    server.stop()


PASSWORD = "correct-horse-battery"


def register(client: httpx.Client, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
    r = client.post("/v1/auth/register", json={"email": email, "password": password, "display_name": "Test"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
