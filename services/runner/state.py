"""The state file (``<root>/state.json``): what ``up`` started, so ``status``/``down`` work from any process.

Shape::

    {"version": 1, "root": "...", "env": "local", "started_at": "2026-...Z", "up_seconds": 21.3,
     "skipped": {"gateway": "services.gateway.__main__ not found"},
     "components": {"postgres": {"kind": "store", "pid": 123, "start_ticks": 456, "port": 5432,
                                 "started_at": "...", "log": ".../logs/postgres.log", "stop_signal": 2,
                                 "health": "tcp", "url": "postgresql://127.0.0.1:5432"}, ...}}

Written atomically (write to a temp file, then rename) after every component so a crash of ``up`` still
leaves a file from which ``down`` can clean up.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Component:
    name: str
    kind: str  # store, emulator, service
    pid: int
    start_ticks: int | None
    port: int
    log: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    stop_signal: int = 15
    signal_group: bool = True  # False for PostgreSQL: only the postmaster is signalled, it stops its children
    health: str = "tcp"  # tcp, grpc, http
    url: str = ""
    extra_ports: dict[str, int] = field(default_factory=dict)


@dataclass
class State:
    root: str
    env: str = "local"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    up_seconds: float | None = None
    components: dict[str, Component] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    version: int = 1

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> State | None:
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        comps = {k: Component(**v) for k, v in data.pop("components", {}).items()}
        return cls(**data, components=comps)
