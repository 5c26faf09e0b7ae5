"""Health goes NOT_SERVING when PostgreSQL stops, SERVING when it is back, NOT_SERVING during shutdown."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.services.catalog.catalog_support import provision_catalog, start_catalog
from tests.services.pg_server import PgServer


def _wait_for(port: int, want: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        status = None
        while time.monotonic() < deadline:
            status = stub.Check(
                health_pb2.HealthCheckRequest(service="shop.catalog.v1.CatalogService"), timeout=5
            ).status
            if status == want:
                return
            time.sleep(0.1)
    raise AssertionError(f"health stayed {status}, wanted {want}")


def test_health_follows_postgresql(pg_server_factory: Callable[[], PgServer], tmp_path: Path) -> None:
    pg = pg_server_factory()
    server = start_catalog(provision_catalog(pg), tmp_path)
    try:
        _wait_for(server.port, health_pb2.HealthCheckResponse.SERVING)
        pg.stop()
        _wait_for(server.port, health_pb2.HealthCheckResponse.NOT_SERVING)
        pg.start()
        _wait_for(server.port, health_pb2.HealthCheckResponse.SERVING)
        server.health.enter_graceful_shutdown()
        _wait_for(server.port, health_pb2.HealthCheckResponse.NOT_SERVING)
    finally:
        server.stop(grace=1)
