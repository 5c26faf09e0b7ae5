"""``up`` / ``status`` / ``down``: the local platform on this machine, without Docker.

Order of ``up``: the four backing processes in parallel (PostgreSQL, Redis, nx-27017, moto), then databases,
roles and migrations, then secrets (into Secrets Manager and back out into per-service folders), then the
services wave by wave in dependency order, each gated on its health check; the demo catalogue is seeded as
soon as catalog is healthy. A failure stops everything started so far (unless ``keep_on_failure``) and raises
``RunnerError`` naming the component and its log file.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.runner import aws_secrets, binaries, procs, stores
from services.runner import services as svc
from services.runner.config import DEFAULT_PORTS, SERVICE_DEPENDS, SERVICE_ORDER, RunnerConfig
from services.runner.state import Component, State

REPO = Path(__file__).resolve().parents[2]
STORE_ORDER = ("postgres", "redis", "mongo", "aws")


class RunnerError(RuntimeError):
    pass


@dataclass
class Platform:
    """What ``up`` returns: where everything listens, and what was skipped."""

    root: Path
    components: dict[str, Component]
    skipped: dict[str, str]
    up_seconds: float
    seed_result: str = ""

    def addr(self, name: str) -> str:
        return self.components[name].url

    def secrets_dir(self, service: str) -> Path:
        return self.root / "secrets" / service


@dataclass
class ComponentStatus:
    name: str
    kind: str
    pid: int
    port: int
    running: bool
    listening: bool
    health: str
    started_at: str
    log: str


@dataclass
class PlatformStatus:
    root: Path
    state_file: Path
    components: list[ComponentStatus] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    up_seconds: float | None = None

    @property
    def running(self) -> bool:
        return any(c.running for c in self.components)

    @property
    def healthy(self) -> bool:
        return bool(self.components) and all(
            c.running and c.health in ("SERVING", "READY", "LISTENING") for c in self.components
        )


@dataclass
class DownReport:
    stopped: dict[str, str] = field(default_factory=dict)  # component -> stopped / killed / not running
    leftovers: list[str] = field(default_factory=list)  # "pid 123 (redis) still running", "port 5432 in use"

    @property
    def clean(self) -> bool:
        return not self.leftovers


def _choose_ports(cfg: RunnerConfig, names: list[str]) -> dict[str, int]:
    chosen: dict[str, int] = {}
    for name in names:
        wanted = cfg.ports.get(name)
        if wanted:
            if not procs.port_is_free(wanted):
                raise RunnerError(f"port {wanted} configured for {name} is already in use")
            chosen[name] = wanted
            continue
        default = DEFAULT_PORTS.get(name, 0)
        chosen[name] = default if wanted is None and default and procs.port_is_free(default) else procs.free_port()
    return chosen


def _check_not_running(cfg: RunnerConfig) -> None:
    state = State.load(cfg.state_file)
    if state is None:
        return
    live = [n for n, c in state.components.items() if procs.alive(c.pid, c.start_ticks)]
    if live:
        raise RunnerError(f"the platform is already running ({', '.join(live)}); run down first")
    cfg.state_file.unlink()  # a stale file from a crashed run: nothing of it is alive


def up(cfg: RunnerConfig | None = None, *, keep_on_failure: bool = False) -> Platform:
    """Start the whole local platform; returns when every started service is healthy."""
    cfg = cfg or RunnerConfig()
    t0 = time.monotonic()
    cfg.root.mkdir(parents=True, exist_ok=True)
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    _check_not_running(cfg)
    try:
        for b in ("pg_ctl", "initdb", "redis-server", "nx-27017"):
            binaries.find(b)
    except binaries.MissingBinary as exc:
        raise RunnerError(str(exc)) from None

    wanted = [s for s in SERVICE_ORDER if s in cfg.services]
    skipped = {s: f"services.{s}.__main__ not found (not built yet)" for s in wanted if not svc.available(s)}
    to_start = [s for s in wanted if s not in skipped]
    for s in list(to_start):
        missing = [d for d in SERVICE_DEPENDS[s] if d not in to_start and d in SERVICE_ORDER]
        if missing and s in ("orders",):  # orders cannot work without catalog
            skipped[s] = f"depends on {', '.join(missing)} which is not started"
            to_start.remove(s)
    for s, why in skipped.items():
        cfg.emit(s, "skipped", why)

    ports = _choose_ports(cfg, [*STORE_ORDER, *to_start])
    state = State(root=str(cfg.root), env=cfg.env_name, skipped=skipped)
    lock = threading.Lock()

    def record(comp: Component) -> None:
        with lock:
            state.components[comp.name] = comp
            state.save(cfg.state_file)

    try:
        _start_stores(cfg, ports, record)
        urls = _provision(cfg, ports)
        _secrets(cfg, ports, urls, to_start)
        seed = _start_services(cfg, ports, to_start, record)
    except BaseException as exc:
        cfg.emit("platform", "failed", str(exc).splitlines()[0])
        if not keep_on_failure:
            down(cfg)
        if isinstance(exc, RunnerError):
            raise
        raise RunnerError(str(exc)) from exc
    state.up_seconds = round(time.monotonic() - t0, 2)
    state.save(cfg.state_file)
    cfg.emit("platform", "ready", f"up in {state.up_seconds}s")
    return Platform(cfg.root, dict(state.components), skipped, state.up_seconds, seed)


def _start_stores(cfg: RunnerConfig, ports: dict[str, int], record: Callable[[Component], None]) -> None:
    logs = cfg.logs_dir
    errors: list[str] = []

    def pg() -> None:
        try:
            cfg.emit("postgres", "starting", f"port {ports['postgres']}")
            comp = stores.start_postgres(cfg.root, ports["postgres"], logs / "postgres.log")
            record(comp)
        except Exception as exc:
            errors.append(f"postgres: {exc}")

    def aws() -> None:
        # The launcher returns once moto itself listens (never another process that took the port meanwhile);
        # an unpinned port lost to another process is replaced by a free one, hence ports["aws"] is updated.
        try:
            cfg.emit("aws", "starting", f"port {ports['aws']}")
            pinned = bool(cfg.ports.get("aws"))
            comp = stores.start_aws(
                cfg.root,
                ports["aws"],
                logs / "aws.log",
                cfg.python,
                move_if_taken=not pinned,
                timeout_s=cfg.store_timeout_s,
            )
            ports["aws"] = comp.port
            record(comp)
            cfg.emit("aws", "ready", comp.url)
        except Exception as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=pg, name="runner-pg"), threading.Thread(target=aws, name="runner-aws")]
    for thread in threads:
        thread.start()
    comps: list[Component] = []
    starters: list[tuple[str, Callable[[], Component]]] = [
        ("redis", lambda: stores.start_redis(cfg.root, ports["redis"], logs / "redis.log")),
        ("mongo", lambda: stores.start_mongo(cfg.root, ports["mongo"], logs / "mongo.log")),
    ]
    try:
        for name, starter in starters:
            cfg.emit(name, "starting", f"port {ports[name]}")
            comp = starter()
            record(comp)
            comps.append(comp)
    finally:
        for thread in threads:  # before a failure unwinds: what they started is recorded, so `down` stops it
            thread.join()
    if errors:
        raise RunnerError("; ".join(errors) + f" (logs in {logs})")
    for comp in comps:
        stores.wait_ready(comp, cfg.store_timeout_s)
        record(comp)
        cfg.emit(comp.name, "ready", comp.url)
    cfg.emit("postgres", "ready", f"postgresql://127.0.0.1:{ports['postgres']}")


def _provision(cfg: RunnerConfig, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    urls = stores.provision_postgres(cfg.root, ports["postgres"])
    for name in stores.PG_SERVICES:
        try:
            applied = stores.migrate_service_db(cfg.root, ports["postgres"], name, urls[name], REPO)
        except Exception as exc:
            raise RunnerError(f"migrations of {name} failed: {exc}") from exc
        cfg.emit("postgres", "info", f"database {name}: roles {name}_owner/{name}_app, migrations {applied or 'none'}")
    return urls


def _secrets(cfg: RunnerConfig, ports: dict[str, int], urls: dict[str, dict[str, str]], to_start: list[str]) -> None:
    root = cfg.root
    tokens = {s: stores.secret_file(root, f"{s}-admin-token") for s in ("catalog", "users")}
    page_key = stores.secret_file(root, "page-token-key")
    values: dict[str, dict[str, str]] = {
        "catalog": {**urls["catalog"], "admin-token": tokens["catalog"], "page-token-key": page_key},
        "users": {
            **urls["users"],
            "admin-token": tokens["users"],
            "page-token-key": page_key,
            # Key-encryption key of the JWT signing keys stored in the users database.
            "jwt-keys": stores.secret_file(root, "users-jwt-keys"),
        },
        "orders": {"documentdb": svc.documentdb_secret(ports["mongo"]), "page-token-key": page_key},
        # gateway: the Redis AUTH token, and catalog's admin token for the /v1/admin product routes (which the
        # gateway opens only to a token with role=admin of that storefront). It never calls CreateTenant, so it
        # holds no users admin token. The frontend keeps no secrets (CSRF is a random double-submit cookie).
        "gateway": {
            "redis-auth": stores.secret_file(root, "redis-auth"),
            "catalog-admin-token": tokens["catalog"],
        },
    }
    endpoint = f"http://127.0.0.1:{ports['aws']}"
    n = aws_secrets.store(endpoint, cfg.env_name, values)
    for name in values:
        written = aws_secrets.materialise(endpoint, cfg.env_name, name, root / "secrets" / name)
        if name in to_start:
            cfg.emit(name, "info", f"secrets from Secrets Manager: {', '.join(written)}")
    cfg.emit("aws", "info", f"{n} secrets stored under eks-shop/{cfg.env_name}/<service>/")


def service_addrs(ports: dict[str, int]) -> dict[str, str]:
    """The addresses every service is given (also used to restart one service with the same wiring)."""
    addrs = {
        "SHOP_MONGO_URL": f"mongodb://127.0.0.1:{ports['mongo']}/?directConnection=true",
        "SHOP_MONGO_DATABASE": "orders",
        "SHOP_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports['aws']}",
    }
    for s, key in (("catalog", "SHOP_CATALOG_ADDR"), ("users", "SHOP_USERS_ADDR"), ("orders", "SHOP_ORDERS_ADDR")):
        if s in ports:
            addrs[key] = f"127.0.0.1:{ports[s]}"
    if "gateway" in ports:
        addrs["SHOP_GATEWAY_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    return addrs


def _start_services(
    cfg: RunnerConfig, ports: dict[str, int], to_start: list[str], record: Callable[[Component], None]
) -> str:
    addrs = service_addrs(ports)
    seed = ""
    # Waves: services in one wave do not call each other, so they boot concurrently (2 cores, ~2 s each).
    waves = [["catalog", "users"], ["orders"], ["gateway"], ["frontend"]]
    for wave in waves:
        members = [s for s in wave if s in to_start]
        started: list[Component] = []
        for name in members:
            env = svc.service_env(cfg, name, ports[name], procs.free_port(), addrs)
            cfg.emit(name, "starting", f"port {ports[name]}")
            comp = svc.start(cfg, name, ports[name], env, REPO)
            record(comp)
            started.append(comp)
        for comp in started:
            try:
                svc.wait_healthy(comp, cfg.service_timeout_s)
            except svc.ServiceUnhealthy as exc:
                raise RunnerError(str(exc)) from None
            cfg.emit(comp.name, "ready", comp.url)
            if comp.name == "catalog" and cfg.seed_demo:
                token = (cfg.root / "secrets" / "catalog" / "admin-token").read_text()
                seed = svc.seed_demo_catalog(comp, cfg.demo_tenant, token)
                cfg.emit("catalog", "info", seed)
            if comp.name == "users" and cfg.seed_demo:
                cfg.emit("users", "info", _demo_tenant(cfg, comp))
    return seed


def _demo_tenant(cfg: RunnerConfig, users: Component) -> str:
    """Register the demo tenant in users (so shoppers can sign up at once); its admin password stays a secret file."""
    password_file = cfg.root / "secrets" / "demo-admin-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(24))
        password_file.chmod(0o600)
    token = (cfg.root / "secrets" / "users" / "admin-token").read_text().strip()
    try:
        svc.create_tenant(
            users, cfg.demo_tenant, "Demo shop", f"admin@{cfg.demo_tenant}.example", password_file.read_text(), token
        )
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:  # a restart over kept data finds it there: fine
            raise RunnerError(f"users refused the demo tenant: {exc.code().name}: {exc.details()}") from None
    admin = f"admin@{cfg.demo_tenant}.example"
    return f"demo tenant {cfg.demo_tenant!r} registered; admin {admin}, password in {password_file}"


def status(cfg: RunnerConfig | None = None) -> PlatformStatus:
    """What the state file says was started, checked live: process, port, health."""
    cfg = cfg or RunnerConfig()
    state = State.load(cfg.state_file)
    result = PlatformStatus(cfg.root, cfg.state_file)
    if state is None:
        return result
    result.skipped, result.up_seconds = state.skipped, state.up_seconds
    for comp in state.components.values():
        running = procs.alive(comp.pid, comp.start_ticks)
        listening = procs.is_listening(comp.port)
        health = svc.probe(comp) if running else "STOPPED"
        result.components.append(
            ComponentStatus(
                comp.name, comp.kind, comp.pid, comp.port, running, listening, health, comp.started_at, comp.log
            )
        )
    return result


def down(cfg: RunnerConfig | None = None) -> DownReport:
    """Stop exactly what the state file records (services first, stores last), then verify nothing is left."""
    cfg = cfg or RunnerConfig()
    report = DownReport()
    state = State.load(cfg.state_file)
    if state is None:
        return report
    order = [*reversed(SERVICE_ORDER), *reversed(STORE_ORDER)]
    comps = sorted(state.components.values(), key=lambda c: order.index(c.name) if c.name in order else -1)
    for comp in comps:
        cfg.emit(comp.name, "stopping", f"pid {comp.pid}")
        outcome = procs.stop_process(
            comp.pid, comp.start_ticks, first=comp.stop_signal, timeout=cfg.stop_timeout_s, group=comp.signal_group
        )
        report.stopped[comp.name] = outcome
        cfg.emit(comp.name, "stopped", outcome)
    deadline = time.monotonic() + 5
    for comp in comps:
        ports = [comp.port, *comp.extra_ports.values()]
        while time.monotonic() < deadline and any(procs.is_listening(p) for p in ports):
            time.sleep(0.1)
        if procs.alive(comp.pid, comp.start_ticks):
            report.leftovers.append(f"pid {comp.pid} ({comp.name}) still running")
        report.leftovers += [f"port {p} ({comp.name}) still listening" for p in ports if procs.is_listening(p)]
    if report.clean:
        cfg.state_file.unlink(missing_ok=True)
        # Materialised secrets are only needed while running; the generated originals stay in <root>/secrets.
        for name in SERVICE_ORDER:
            shutil.rmtree(cfg.root / "secrets" / name, ignore_errors=True)
    return report
