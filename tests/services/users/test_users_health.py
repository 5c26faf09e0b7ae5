"""The users service reports NOT_SERVING while PostgreSQL is down and recovers when it is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.pg_migrate import provision
from services.common.settings import Secrets, Settings
from services.users.app import MIGRATIONS, build
from services.users.passwords import Passwords
from tests.services.pg_server import PgServer


def _wait_for(port: int, want: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    status = None
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        while time.monotonic() < deadline:
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5).status
            if status == want:
                return
            time.sleep(0.1)
    raise AssertionError(f"health stayed {status}, wanted {want}")


def test_users_health_follows_postgresql(pg_server_factory: Callable[[], PgServer], tmp_path: Path) -> None:
    pg = pg_server_factory()
    name = pg.create_database()
    provision(pg.url(name), MIGRATIONS, "users_h_app", "pw")
    (tmp_path / "jwt-keys").write_text(uuid.uuid4().hex)
    settings = Settings(
        service="users",
        grpc_port=0,
        http_port=0,
        grpc_host="127.0.0.1",
        database_url=pg.url(name, "users_h_app", "pw"),
        secrets_dir=tmp_path,
        secrets=Secrets(tmp_path),
        health_interval_seconds=0.2,
    )
    server = build(settings, passwords=Passwords(time_cost=1, memory_cost_kib=8192, parallelism=1))
    server.start()
    try:
        _wait_for(server.port, health_pb2.HealthCheckResponse.SERVING)
        pg.stop()
        _wait_for(server.port, health_pb2.HealthCheckResponse.NOT_SERVING)
        pg.start()
        _wait_for(server.port, health_pb2.HealthCheckResponse.SERVING)
    finally:
        server.stop(grace=1)
