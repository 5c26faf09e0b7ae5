"""``python -m services.<svc> migrate`` then ``python -m services.<svc>``: healthy, /metrics, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runner.procs import free_port
from tests.services.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("service", ["catalog", "users"])
def test_service_entry_point_lifecycle(service: str, pg_server: PgServer, tmp_path: Path) -> None:
    (tmp_path / "admin-token").write_text("adm-token")
    (tmp_path / "jwt-keys").write_text("k" * 40)
    (tmp_path / "app-pw").write_text("app-pw\n")
    db = f"{service}_ep"
    role = f"{service}_ep_app"
    migrate = subprocess.run(
        [
            sys.executable,
            "-m",
            f"services.{service}",
            "migrate",
            "--admin-url",
            pg_server.url(db),
            "--app-role",
            role,
            "--app-password-file",
            str(tmp_path / "app-pw"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    port, metrics_port = free_port(), free_port()
    env = dict(
        os.environ,
        SHOP_GRPC_PORT=str(port),
        SHOP_HTTP_PORT=str(metrics_port),
        SHOP_DATABASE_URL=pg_server.url(db, role, "app-pw"),
        SHOP_SECRETS_DIR=str(tmp_path),
        SHOP_SHUTDOWN_GRACE_SECONDS="5",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            while True:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "service never became healthy"
                try:
                    status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        assert "shop_grpc_request_duration_seconds" in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        out = proc.stdout.read() if proc.stdout else ""
        assert '"msg": "stopped"' in out
        assert "adm-token" not in out
        assert "app-pw" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
