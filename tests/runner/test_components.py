"""Stop and start one component of a running platform: same port, fresh process, state file kept consistent."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runner import RunnerConfig, RunnerError, down, procs, start_component, status, stop_component, up

pytestmark = pytest.mark.slow
FREE = {name: 0 for name in ("postgres", "redis", "mongo", "aws", "catalog")}


@pytest.fixture
def platform() -> Iterator[RunnerConfig]:
    root = Path(tempfile.mkdtemp(prefix="shop-components-"))
    root.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its folder
    cfg = RunnerConfig(root=root / "platform", ports=dict(FREE), services=("catalog",), seed_demo=False)
    up(cfg)
    try:
        yield cfg
    finally:
        report = down(RunnerConfig(root=cfg.root))
        shutil.rmtree(root, ignore_errors=True)
    assert report.clean, report.leftovers


def _recorded(cfg: RunnerConfig, name: str) -> dict[str, object]:
    entry: dict[str, object] = json.loads(cfg.state_file.read_text())["components"][name]
    return entry


@pytest.mark.parametrize("name", ["catalog", "redis"])
def test_stop_then_start_one_component(platform: RunnerConfig, name: str) -> None:
    before = _recorded(platform, name)
    assert stop_component(platform, name, crash=(name == "catalog")) in ("stopped", "killed")
    assert not procs.is_listening(int(str(before["port"])))
    stopped = {c.name: c for c in status(RunnerConfig(root=platform.root)).components}
    assert not stopped[name].running  # still recorded: status shows it STOPPED, down knows its port
    assert stopped[name].health == "STOPPED"
    assert all(c.running for n, c in stopped.items() if n != name)

    start_component(platform, name)
    after = _recorded(platform, name)
    assert after["port"] == before["port"]
    assert after["pid"] != before["pid"]
    assert status(RunnerConfig(root=platform.root)).healthy


def test_refusals(platform: RunnerConfig) -> None:
    with pytest.raises(RunnerError, match="already running"):
        start_component(platform, "catalog")
    with pytest.raises(RunnerError, match="not a component"):
        stop_component(platform, "frontend")
    stop_component(platform, "postgres")
    with pytest.raises(RunnerError, match="not supported"):
        start_component(platform, "postgres")
