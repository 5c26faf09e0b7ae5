"""Runner configuration and progress events."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Dependency order: a service starts only after the ones it calls are healthy (reference/architecture.yaml).
SERVICE_ORDER: tuple[str, ...] = ("catalog", "users", "orders", "gateway", "frontend")
SERVICE_DEPENDS: dict[str, tuple[str, ...]] = {
    "catalog": (),
    "users": (),
    "orders": ("catalog",),
    "gateway": ("catalog", "orders", "users"),
    "frontend": ("gateway",),
}
GRPC_SERVICES = frozenset({"catalog", "users", "orders"})
HTTP_SERVICES = frozenset({"gateway", "frontend"})
# Conventional ports (docs/conventions.md); used when free, else a free port is picked (unless strict).
DEFAULT_PORTS: dict[str, int] = {
    "postgres": 5432,
    "redis": 6379,
    "mongo": 27017,
    "aws": 4566,
    "catalog": 50051,
    "orders": 50052,
    "users": 50053,
    "gateway": 8000,
    "frontend": 8080,
}


@dataclass(frozen=True)
class Progress:
    """One progress event; ``phase`` is starting, ready, skipped, stopping, stopped, failed or info."""

    component: str
    phase: str
    message: str = ""
    elapsed_s: float = 0.0


ProgressCallback = Callable[[Progress], None]


def _silent(_: Progress) -> None:
    return None


@dataclass
class RunnerConfig:
    """Everything ``up`` needs. All paths live under ``root`` (default ``<repo>/.work/platform``).

    ``ports``: fixed ports per component (keys of DEFAULT_PORTS). Components without an entry get their
    conventional port when it is free, else a free one; ``ports[name] = 0`` forces a free port.
    ``services``: which services to start (default: all five; those without ``services.<name>.__main__``
    are skipped and reported).
    """

    root: Path = field(default_factory=lambda: Path.cwd() / ".work" / "platform")
    ports: dict[str, int] = field(default_factory=dict)
    services: tuple[str, ...] = SERVICE_ORDER
    env_name: str = "local"
    demo_tenant: str = "demo"
    seed_demo: bool = True
    store_timeout_s: float = 30.0
    service_timeout_s: float = 45.0
    stop_timeout_s: float = 10.0
    log_level: str = "INFO"
    python: str = ""  # interpreter for the services; default: the running one
    progress: ProgressCallback = _silent
    extra_env: dict[str, str] = field(default_factory=dict)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def emit(self, component: str, phase: str, message: str = "") -> None:
        self.progress(Progress(component, phase, message, round(time.monotonic() - self._t0, 2)))
