"""Start the shop's services as ``python -m services.<name>`` and gate each on its health check."""

from __future__ import annotations

import importlib.util
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runner import procs
from services.runner.config import GRPC_SERVICES, RunnerConfig
from services.runner.state import Component


class ServiceUnhealthy(RuntimeError):
    pass


def available(name: str) -> bool:
    """A service can be started when its package has an entry point (``services.<name>.__main__``)."""
    try:
        return importlib.util.find_spec(f"services.{name}.__main__") is not None
    except ModuleNotFoundError:
        return False


# Set by the runner for every service: where it listens, where its dependencies and secrets are. A caller's value
# for one of these would break the wiring, so it is never passed through (the runner's value wins).
RUNNER_OWNED = frozenset(
    {
        "SHOP_ENV",
        "SHOP_GRPC_HOST",
        "SHOP_GRPC_PORT",
        "SHOP_HTTP_PORT",
        "SHOP_HTTP_HOST",
        "SHOP_SECRETS_DIR",
        "SHOP_MONGO_URL",
        "SHOP_MONGO_DATABASE",
        "SHOP_REDIS_URL",
        "SHOP_DATABASE_URL",
        "SHOP_CATALOG_ADDR",
        "SHOP_USERS_ADDR",
        "SHOP_ORDERS_ADDR",
        "SHOP_GATEWAY_URL",
    }
)


def caller_overrides(name: str, environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """Settings the caller passes to the services through its environment (docs: services/runner README).

    ``SHOP_<SETTING>=v`` goes to every service (each ignores the settings it does not know), and
    ``SHOP_<SERVICE>__<SETTING>=v`` (double underscore) only to that service and over the former, e.g.
    ``SHOP_GATEWAY__RATE_CLIENT_PER_S=1000 shopctl up``. Wiring variables (RUNNER_OWNED) are never taken.
    """
    shared: dict[str, str] = {}
    own: dict[str, str] = {}
    prefix = f"SHOP_{name.upper()}__"
    for key, value in environ.items():
        if not key.startswith("SHOP_"):
            continue
        if "__" in key:
            if key.startswith(prefix) and len(key) > len(prefix):
                own["SHOP_" + key[len(prefix) :]] = value
            continue  # another service's override
        shared[key] = value
    merged = {**shared, **own}
    return {k: v for k, v in merged.items() if k not in RUNNER_OWNED}


def service_env(cfg: RunnerConfig, name: str, port: int, metrics_port: int, addrs: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    # Defaults a caller may override (log level, tracing, the local tenant and proxy settings) ...
    env.update({"PYTHONUNBUFFERED": "1", "SHOP_LOG_LEVEL": cfg.log_level, "SHOP_OTEL_EXPORTER": "none"})
    if name in ("gateway", "frontend"):
        # Locally the storefront is 127.0.0.1 with no host name to map: serve the demo tenant by default.
        env["SHOP_DEFAULT_TENANT"] = cfg.demo_tenant
    if name == "gateway":
        # The frontend appends the shopper's address to X-Forwarded-For; rate limits then apply per shopper.
        env["SHOP_TRUSTED_PROXY_HOPS"] = "1"
    # ... with the caller's SHOP_* settings (e.g. rate limits for a benchmark) ...
    env.update(caller_overrides(name, os.environ))
    # ... and the wiring, which only the runner decides.
    env.update(
        {"SHOP_ENV": cfg.env_name, "SHOP_GRPC_HOST": "127.0.0.1", "SHOP_SECRETS_DIR": str(cfg.root / "secrets" / name)}
    )
    if name in GRPC_SERVICES:
        env["SHOP_GRPC_PORT"] = str(port)
        env["SHOP_HTTP_PORT"] = str(metrics_port)  # the /metrics endpoint of a gRPC service
    else:
        env["SHOP_HTTP_PORT"] = str(port)
    env.update(addrs)
    env.update(cfg.extra_env)
    return env


def start(cfg: RunnerConfig, name: str, port: int, env: dict[str, str], repo: Path) -> Component:
    log = cfg.logs_dir / f"{name}.log"
    python = cfg.python or _venv_python()
    proc = procs.spawn([python, "-m", f"services.{name}"], log, env, cwd=repo)
    health = "grpc" if name in GRPC_SERVICES else "http"
    url = f"127.0.0.1:{port}" if health == "grpc" else f"http://127.0.0.1:{port}"
    extra = {"metrics": int(env["SHOP_HTTP_PORT"])} if health == "grpc" else {}
    return Component(
        name,
        "service",
        proc.pid,
        procs.proc_start_ticks(proc.pid),
        port,
        str(log),
        health=health,
        url=url,
        extra_ports=extra,
    )


def _venv_python() -> str:
    import sys

    return sys.executable


def probe(comp: Component, timeout: float = 1.0) -> str:
    """One health probe: SERVING / NOT_SERVING / UNREACHABLE for gRPC, READY / NOT_READY for HTTP."""
    if comp.health == "grpc":
        with grpc.insecure_channel(comp.url) as ch:
            try:
                resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
            except grpc.RpcError:
                return "UNREACHABLE"
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))
    if comp.health == "http":
        try:
            with urllib.request.urlopen(f"{comp.url}/readyz", timeout=timeout) as r:  # noqa: S310 - loopback
                return "READY" if r.status == 200 else "NOT_READY"
        except (urllib.error.URLError, OSError):
            return "UNREACHABLE"
    return "LISTENING" if procs.is_listening(comp.port) else "UNREACHABLE"


def wait_healthy(comp: Component, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "UNREACHABLE"
    while time.monotonic() < deadline:
        if not procs.alive(comp.pid, comp.start_ticks):
            raise ServiceUnhealthy(f"{comp.name} exited during start-up; see {comp.log}:\n{_tail(comp.log)}")
        last = probe(comp, timeout=1.0)
        if last in ("SERVING", "READY"):
            return
        time.sleep(0.2)
    raise ServiceUnhealthy(
        f"{comp.name} not healthy after {timeout:.0f}s (last health: {last}); see {comp.log}:\n{_tail(comp.log)}"
    )


def _tail(path: str, lines: int = 8) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n".join("    " + line[:300] for line in text)


def seed_demo_catalog(comp: Component, tenant: str, admin_token: str) -> str:
    """Call catalog's SeedDemoCatalog for the demo tenant; returns a one-line outcome."""
    from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc

    with grpc.insecure_channel(comp.url) as ch:
        stub = catalog_pb2_grpc.CatalogServiceStub(ch)  # type: ignore[no-untyped-call]
        try:
            resp = stub.SeedDemoCatalog(
                catalog_pb2.SeedDemoCatalogRequest(),
                metadata=(("x-tenant-id", tenant), ("x-admin-token", admin_token)),
                timeout=30,
            )
        except grpc.RpcError as exc:
            return f"seeding failed: {exc.code().name}: {exc.details()}"
    return f"demo catalogue for tenant {tenant!r}: {resp.created} products created"


def create_tenant(
    comp: Component, tenant: str, display_name: str, admin_email: str, admin_password: str, admin_token: str
) -> str:
    """users.CreateTenant: the tenant and its first (admin) user; returns the admin's user id."""
    from services.protos.gen.shop.users.v1 import users_pb2, users_pb2_grpc

    with grpc.insecure_channel(comp.url) as ch:
        stub = users_pb2_grpc.UsersServiceStub(ch)  # type: ignore[no-untyped-call]
        response = stub.CreateTenant(
            users_pb2.CreateTenantRequest(
                tenant_id=tenant, display_name=display_name, admin_email=admin_email, admin_password=admin_password
            ),
            metadata=(("x-admin-token", admin_token),),
            timeout=30,
        )
    return str(response.admin_user.id)


def documentdb_secret(port: int) -> str:
    # The shape of a DocumentDB managed secret; nx-27017 needs no user, so none is given locally.
    return json.dumps({"engine": "mongo", "host": "127.0.0.1", "port": port, "ssl": False})
