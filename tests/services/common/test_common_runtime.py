"""services.common: tenant interceptor, error mapping, metrics, health, settings, secrets, page tokens."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace

from services.common import client, errors, metrics, tenancy, tracing
from services.common.interceptors import ObservabilityInterceptor
from services.common.logs import JsonFormatter
from services.common.pagination import PageTokens
from services.common.server import DependencyCheck, ShopServer
from services.common.settings import ConfigError, Secrets, Settings, redact_url
from services.common.tracing import setup_tracing

ROOT = Path(__file__).resolve().parents[3]


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"shop-error":
        raise errors.NotFound("product 42 not found")
    if request == b"crash":
        raise RuntimeError("secret internals")
    return (tenancy.tenant_or_none() or "<none>").encode()


def _stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield (tenancy.tenant_or_none() or "<none>").encode()


def _register(server: grpc.Server) -> list[str]:
    ident = grpc.unary_unary_rpc_method_handler(_echo)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Echo",
                {
                    "Echo": ident,
                    "Public": grpc.unary_unary_rpc_method_handler(_echo),
                    "Stream": grpc.unary_stream_rpc_method_handler(_stream),
                },
            ),
        )
    )
    return ["test.Echo"]


@pytest.fixture
def dependency() -> dict[str, bool]:
    return {"up": True}


@pytest.fixture
def server(dependency: dict[str, bool]) -> Iterator[ShopServer]:
    settings = Settings(service="testsvc", grpc_port=0, http_port=0, grpc_host="127.0.0.1", health_interval_seconds=0.1)
    srv = ShopServer(
        settings,
        _register,
        checks=[DependencyCheck("fake-db", lambda: dependency["up"])],
        tenant_exempt_methods=frozenset({"/test.Echo/Public"}),
    )
    srv.start()
    yield srv
    srv.stop(grace=0.5)


def _call(srv: ShopServer, payload: bytes, metadata: tuple[tuple[str, str], ...] = (), method: str = "Echo") -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
        result: bytes = ch.unary_unary(f"/test.Echo/{method}")(payload, metadata=metadata, timeout=5)
        return result


def _code(exc: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    code: grpc.StatusCode = exc.value.code()  # type: ignore[attr-defined]
    return code


def test_tenant_is_required_validated_and_exposed(server: ShopServer) -> None:
    assert _call(server, b"x", (("x-tenant-id", "acme-shop"),)) == b"acme-shop"
    with pytest.raises(grpc.RpcError) as missing:
        _call(server, b"x")
    assert _code(missing) == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-tenant-id" in missing.value.details()  # type: ignore[attr-defined]
    for bad in ["A", "acme_", "-acme", "ab", "a" * 40, "acme-"]:
        with pytest.raises(grpc.RpcError) as invalid:
            _call(server, b"x", (("x-tenant-id", bad),))
        assert _code(invalid) == grpc.StatusCode.INVALID_ARGUMENT, bad
    assert _call(server, b"x", method="Public") == b"<none>"


def test_stream_handlers_see_the_tenant(server: ShopServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        got = list(ch.unary_stream("/test.Echo/Stream")(b"", metadata=(("x-tenant-id", "tenant-b"),), timeout=5))
    assert got == [b"tenant-b"]


def test_errors_are_mapped_and_internals_hidden(server: ShopServer) -> None:
    md = (("x-tenant-id", "acme"),)
    with pytest.raises(grpc.RpcError) as nf:
        _call(server, b"shop-error", md)
    assert _code(nf) == grpc.StatusCode.NOT_FOUND
    assert nf.value.details() == "product 42 not found"  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as crash:
        _call(server, b"crash", md)
    assert _code(crash) == grpc.StatusCode.INTERNAL
    assert "secret internals" not in crash.value.details()  # type: ignore[attr-defined]
    count = metrics.REQUESTS.labels("testsvc", "/test.Echo/Echo", "NOT_FOUND")._value.get()
    assert count >= 1
    assert metrics.ERRORS.labels("testsvc", "/test.Echo/Echo", "INTERNAL")._value.get() >= 1


def test_client_channel_forwards_tenant(server: ShopServer) -> None:
    ch = client.channel(f"127.0.0.1:{server.port}")
    with tenancy.tenant_context("forwarded-t"):
        assert ch.unary_unary("/test.Echo/Echo")(b"x", timeout=5) == b"forwarded-t"
    ch.close()


def _health(srv: ShopServer) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
        status: int = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
        return status


def test_health_follows_dependency_and_shutdown(server: ShopServer, dependency: dict[str, bool]) -> None:
    assert _health(server) == health_pb2.HealthCheckResponse.SERVING
    dependency["up"] = False
    deadline = time.monotonic() + 5
    while _health(server) != health_pb2.HealthCheckResponse.NOT_SERVING:
        assert time.monotonic() < deadline, "health never went NOT_SERVING"
        time.sleep(0.05)
    dependency["up"] = True
    deadline = time.monotonic() + 5
    while _health(server) != health_pb2.HealthCheckResponse.SERVING:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.health.enter_graceful_shutdown()
    assert _health(server) == health_pb2.HealthCheckResponse.NOT_SERVING


def test_settings_and_secrets_do_not_leak(tmp_path: Path) -> None:
    (tmp_path / "admin-token").write_text("s3cr3t-value\n")
    env = {
        "SHOP_SECRETS_DIR": str(tmp_path),
        "SHOP_DATABASE_URL": "postgresql://catalog:pw123@db:5432/catalog",
        "SHOP_GRPC_PORT": "6000",
    }
    settings = Settings.from_env("catalog", env)
    assert settings.grpc_port == 6000
    assert settings.http_port == 9090
    assert "pw123" not in repr(settings)
    secret = settings.secrets.require("admin-token")
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in f"{secret}"
    with pytest.raises(ConfigError, match="jwt-keys"):
        Secrets(tmp_path).require("jwt-keys")
    with pytest.raises(ConfigError, match="SHOP_GRPC_PORT"):
        Settings.from_env("catalog", {"SHOP_GRPC_PORT": "abc"})
    assert Settings.from_env("users", {}).grpc_port == 50053
    assert redact_url("postgresql://u:p@h/d") == "postgresql://u:***@h/d"


def test_tenant_pattern_comes_from_reference() -> None:
    data = yaml.safe_load((ROOT / "reference" / "architecture.yaml").read_text())
    assert data["tenancy"]["tenant_id_pattern"] == tenancy.TENANT_ID_PATTERN
    assert tenancy.is_valid_tenant_id("acme")
    assert not tenancy.is_valid_tenant_id("acme\n")


def test_page_tokens_are_bound_to_scope() -> None:
    tokens = PageTokens()
    token = tokens.encode("t1:list", {"after": "x"})
    assert tokens.decode("t1:list", token) == {"after": "x"}
    for bad_scope, bad_token in [("t2:list", token), ("t1:list", token[:-2] + "AA"), ("t1:list", "garbage")]:
        with pytest.raises(errors.InvalidArgument, match="page_token"):
            tokens.decode(bad_scope, bad_token)


def test_json_log_lines_carry_tenant() -> None:
    import json

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.order_id = "o-1"
    with tenancy.tenant_context("acme"):
        line = json.loads(JsonFormatter("svc").format(record))
    assert line["msg"] == "hello world"
    assert line["tenant"] == "acme"
    assert line["order_id"] == "o-1"


def test_trace_context_propagates_to_the_server() -> None:
    setup_tracing("test", "none")
    seen: dict[str, str] = {}

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen["trace"] = tracing.current_trace_id()
        return b""

    srv = grpc.server(futures.ThreadPoolExecutor(2), interceptors=[ObservabilityInterceptor("t")])
    srv.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Trace", {"Go": grpc.unary_unary_rpc_method_handler(handler)}),)
    )
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        ch = client.channel(f"127.0.0.1:{port}")
        with trace.get_tracer("test").start_as_current_span("caller") as span:
            ch.unary_unary("/test.Trace/Go")(b"", timeout=5)
            expected = format(span.get_span_context().trace_id, "032x")
        ch.close()
    finally:
        srv.stop(0)
    assert seen["trace"] == expected
