"""Frontend fixtures: the real stack and gateway (tests/services/gateway/stack.py) and the storefront on a port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from services.frontend.app import create_app
from services.frontend.settings import FrontendSettings
from services.runner.procs import free_port
from tests.services.gateway.stack import GatewayServer, gateway, stack
from tests.services.mongo_server import mongo_url
from tests.services.pg_server import pg_server
from tests.services.redis_server import redis_server

__all__ = ["frontend", "gateway", "mongo_url", "pg_server", "redis_server", "stack"]


class FrontendServer:
    def __init__(self, settings: FrontendSettings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("frontend did not start")
            time.sleep(0.02)

    def client(self, tenant: str = "shop-a", headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", headers={"X-Tenant": tenant, **(headers or {})}, timeout=20
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def frontend(gateway: GatewayServer) -> Iterator[FrontendServer]:
    server = FrontendServer(FrontendSettings(gateway_url=gateway.url))
    yield server
    server.stop()


@pytest.fixture
def frontend_without_gateway() -> Iterator[FrontendServer]:
    server = FrontendServer(FrontendSettings(gateway_url=f"http://127.0.0.1:{free_port()}", default_tenant="shop-a"))
    yield server
    server.stop()
