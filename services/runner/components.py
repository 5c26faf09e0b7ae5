"""Stop and start ONE component of a running local platform (resilience drills: "catalog down, then back").

The component keeps its entry in ``<root>/state.json`` while it is stopped (its port stays the component's port,
``status`` shows it STOPPED and ``down`` reports it "not running"), and ``start_component`` starts it again on the
same port(s) with the same wiring, so the services that call it reconnect without being restarted themselves.
Both use the runner's own spawn/stop code and health gates.
"""

from __future__ import annotations

import signal

from services.runner import procs, stores
from services.runner import services as svc
from services.runner.config import RunnerConfig
from services.runner.platform import REPO, RunnerError, service_addrs
from services.runner.state import Component, State

# Stores a drill may restart. PostgreSQL, nx-27017 and moto keep data or secrets the platform was provisioned
# with; restarting them is a different exercise (and not needed by the application requirements).
RESTARTABLE_STORES = frozenset({"redis"})


def _load(cfg: RunnerConfig, name: str) -> tuple[State, Component]:
    state = State.load(cfg.state_file)
    if state is None:
        raise RunnerError(f"no platform state at {cfg.state_file}: is the platform up?")
    if name not in state.components:
        raise RunnerError(f"{name} is not a component of this platform ({', '.join(sorted(state.components))})")
    return state, state.components[name]


def is_running(cfg: RunnerConfig, name: str) -> bool:
    _, comp = _load(cfg, name)
    return procs.alive(comp.pid, comp.start_ticks)


def stop_component(cfg: RunnerConfig, name: str, *, crash: bool = False) -> str:
    """Stop ``name``; returns stopped / killed / not running. Its port is released.

    ``crash=True`` sends SIGKILL at once: what an outage drill wants (a crashed process says goodbye to nobody),
    and quick, where a graceful stop waits for streaming calls through the service's shutdown grace.
    """
    _, comp = _load(cfg, name)
    cfg.emit(name, "stopping", f"pid {comp.pid}" + (" (crash)" if crash else ""))
    first = signal.SIGKILL if crash else comp.stop_signal
    outcome = procs.stop_process(
        comp.pid, comp.start_ticks, first=first, timeout=cfg.stop_timeout_s, group=comp.signal_group
    )
    if outcome == "still running":
        raise RunnerError(f"{name} (pid {comp.pid}) did not stop; see {comp.log}")
    if not procs.wait_port_free(comp.port, cfg.stop_timeout_s):
        raise RunnerError(f"{name} stopped but port {comp.port} is still in use")
    cfg.emit(name, "stopped", outcome)
    return outcome


def start_component(cfg: RunnerConfig, name: str) -> Component:
    """Start a stopped component again on its recorded port(s); returns once it is healthy (or raises)."""
    state, old = _load(cfg, name)
    if procs.alive(old.pid, old.start_ticks):
        raise RunnerError(f"{name} is already running (pid {old.pid})")
    if old.kind == "service":
        comp = _start_service(cfg, state, old)
    elif name in RESTARTABLE_STORES:
        comp = _start_store(cfg, old)
    else:
        raise RunnerError(f"restarting {name} alone is not supported; use down and up")
    state.components[name] = comp
    state.save(cfg.state_file)  # before the health gate: a failed start must still be stoppable by down
    _wait(cfg, comp)
    cfg.emit(name, "ready", comp.url)
    return comp


def _start_service(cfg: RunnerConfig, state: State, old: Component) -> Component:
    ports = {n: c.port for n, c in state.components.items()}
    # gRPC services keep their /metrics port so scrape configs and the state file stay valid.
    metrics_port = old.extra_ports.get("metrics") or procs.free_port()
    env = svc.service_env(cfg, old.name, old.port, metrics_port, service_addrs(ports))
    cfg.emit(old.name, "starting", f"port {old.port}")
    return svc.start(cfg, old.name, old.port, env, REPO)


def _start_store(cfg: RunnerConfig, old: Component) -> Component:
    cfg.emit(old.name, "starting", f"port {old.port}")
    return stores.start_redis(cfg.root, old.port, cfg.logs_dir / f"{old.name}.log")


def _wait(cfg: RunnerConfig, comp: Component) -> None:
    try:
        if comp.kind == "service":
            svc.wait_healthy(comp, cfg.service_timeout_s)
        else:
            stores.wait_ready(comp, cfg.store_timeout_s)
    except (svc.ServiceUnhealthy, RuntimeError) as exc:
        raise RunnerError(str(exc)) from None
