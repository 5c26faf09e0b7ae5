"""The local platform runner: up brings the backends up healthy, status sees them, down leaves nothing behind."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runner import Progress, RunnerConfig, RunnerError, binaries, down, procs, status, up
from services.runner import services as runner_services

pytestmark = pytest.mark.slow
ALL_FREE = {
    name: 0 for name in ("postgres", "redis", "mongo", "aws", "catalog", "users", "orders", "gateway", "frontend")
}


@pytest.fixture
def platform_root() -> Iterator[Path]:
    # pytest's tmp_path is 0700 root-only; PostgreSQL runs as the postgres user and must reach its folder.
    root = Path(tempfile.mkdtemp(prefix="shop-runner-"))
    root.chmod(0o755)
    yield root / "platform"
    shutil.rmtree(root, ignore_errors=True)


def test_up_status_down(platform_root: Path) -> None:
    events: list[Progress] = []
    cfg = RunnerConfig(root=platform_root, ports=dict(ALL_FREE), progress=events.append)
    t0 = time.monotonic()
    platform = up(cfg)
    elapsed = time.monotonic() - t0
    print(f"\nup() took {elapsed:.2f}s (reported {platform.up_seconds}s); skipped: {platform.skipped}")
    try:
        backends = [s for s in ("catalog", "users", "orders") if runner_services.available(s)]
        assert set(backends) <= set(platform.components)
        assert {"postgres", "redis", "mongo", "aws"} <= set(platform.components)
        assert elapsed < 60
        assert "products created" in platform.seed_result
        for name in ("gateway", "frontend"):
            assert (name in platform.components) != (name in platform.skipped)
        # status from the state file (as another process would), live probes included
        st = status(RunnerConfig(root=cfg.root))
        by_name = {c.name: c for c in st.components}
        for name in backends:
            assert by_name[name].running
            assert by_name[name].health == "SERVING"
        assert st.healthy
        state = json.loads(cfg.state_file.read_text())
        assert {"pid", "port", "started_at", "start_ticks", "log"} <= set(state["components"]["orders"])
        # each service got its own secrets, read back from Secrets Manager; no secret in any log
        assert (cfg.root / "secrets" / "catalog" / "database-url").stat().st_mode & 0o777 == 0o600
        assert not (cfg.root / "secrets" / "orders" / "database-url").exists()
        secret_values = [p.read_text() for p in (cfg.root / "secrets" / "catalog").iterdir()]
        for log in (cfg.root / "logs").glob("*.log"):
            text = log.read_text(errors="replace")
            assert not any(v and v in text for v in secret_values), log
        # a second up while running is refused
        with pytest.raises(RunnerError, match="already running"):
            up(RunnerConfig(root=cfg.root, ports=dict(ALL_FREE)))
    finally:
        recorded = json.loads(cfg.state_file.read_text())["components"]
        report = down(RunnerConfig(root=cfg.root))
    assert report.clean, report.leftovers
    assert not cfg.state_file.exists()
    for comp in recorded.values():
        assert not procs.alive(comp["pid"], comp["start_ticks"]), comp["name"]
        for port in [comp["port"], *comp["extra_ports"].values()]:
            assert not procs.is_listening(port), (comp["name"], port)
    assert not status(RunnerConfig(root=cfg.root)).running
    phases = {(e.component, e.phase) for e in events}
    assert ("orders", "ready") in phases
    assert ("platform", "ready") in phases


def test_missing_binary_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = binaries.find

    def fake(name: str) -> str:
        if name == "redis-server":
            raise binaries.MissingBinary(
                "redis-server not found: install redis-server (apt-get install -y redis-server)"
            )
        return real(name)

    monkeypatch.setattr(binaries, "find", fake)
    with pytest.raises(RunnerError) as info:
        up(RunnerConfig(root=tmp_path / "p", ports=dict(ALL_FREE)))
    assert "apt-get install -y redis-server" in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "p" / "state.json").exists()


def test_down_without_state_is_a_no_op(tmp_path: Path) -> None:
    report = down(RunnerConfig(root=tmp_path))
    assert report.clean
    assert report.stopped == {}


def test_caller_settings_reach_the_services_but_never_the_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RATE_LIMIT", "false")
    monkeypatch.setenv("SHOP_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SHOP_GATEWAY__RATE_CLIENT_PER_S", "1000")
    monkeypatch.setenv("SHOP_ORDERS__ORDERS_CLAIM_TTL_S", "60")
    monkeypatch.setenv("SHOP_HTTP_PORT", "1")  # wiring: ignored
    monkeypatch.setenv("SHOP_GATEWAY__REDIS_URL", "redis://elsewhere:1/0")  # wiring: ignored
    cfg = RunnerConfig(root=Path("/nonexistent/platform"))
    addrs = {"SHOP_REDIS_URL": "redis://127.0.0.1:6379/0"}
    gateway = runner_services.service_env(cfg, "gateway", 8000, 9000, addrs)
    orders = runner_services.service_env(cfg, "orders", 50052, 9001, addrs)
    assert gateway["SHOP_RATE_LIMIT"] == orders["SHOP_RATE_LIMIT"] == "false"
    assert gateway["SHOP_LOG_LEVEL"] == "DEBUG"
    assert gateway["SHOP_RATE_CLIENT_PER_S"] == "1000"
    assert "SHOP_RATE_CLIENT_PER_S" not in orders
    assert orders["SHOP_ORDERS_CLAIM_TTL_S"] == "60"
    assert not any("__" in k for k in gateway)
    assert gateway["SHOP_HTTP_PORT"] == "8000"
    assert orders["SHOP_HTTP_PORT"] == "9001"
    assert gateway["SHOP_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert gateway["SHOP_TRUSTED_PROXY_HOPS"] == "1"
