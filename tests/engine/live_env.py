"""One dev environment applied into a private embedded emulator, shared by the live engine tests of a session.

The apply is the expensive part (about three minutes on two cores), so the first test that needs it applies, the
others reuse it, and the emulator is stopped when the interpreter exits. Everything lives on a free port and in a
private work folder, so a developer's own emulator on 4566 and parallel runs are never touched.

The work folder (with the emulator's log) is removed at exit; when the apply fails, or a test that used the
environment fails (tests/engine/conftest.py), the log is first copied to ``reports/emulator-logs/`` and the failure
message says where.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conformance.facts import Facts
from conformance.targets.base import RunContext
from conformance.targets.localstack import LocalStackTarget

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveEnv:
    target: LocalStackTarget
    facts: Facts
    endpoint: str
    work_dir: Path


_CACHE: dict[tuple[str, Path], LiveEnv] = {}


def private_work_dir() -> Path:
    """A fresh work folder that shares the project's provider cache (no second copy of the AWS provider)."""
    root = PROJECT_ROOT / ".work" / "test-live"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    cache = PROJECT_ROOT / ".work" / "terraform" / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    (work / "terraform").mkdir()
    os.symlink(cache, work / "terraform" / "plugin-cache")
    return work


def context(
    work_dir: Path,
    endpoint: str | None,
    environment: str = "dev",
    keep: bool = False,
    project_root: Path = PROJECT_ROOT,
) -> RunContext:
    return RunContext(
        environment=environment, project_root=project_root, work_dir=work_dir, endpoint=endpoint, keep=keep
    )


class LiveEnvFailed(RuntimeError):
    """The shared environment could not be applied or read: every test that needs it fails with the same cause."""


_FAILED: dict[tuple[str, Path], str] = {}
_USERS: dict[str, LiveEnv] = {}  # test node id -> the live environment it used (to keep the log if it fails)

# Where a failed live run's emulator logs are kept: beside the reports, which are what CI archives (like
# reports/e2e-logs and reports/screenshots); the work folder itself is removed at exit.
KEPT_LOGS = PROJECT_ROOT / "reports" / "emulator-logs"


def live_dev() -> LiveEnv:
    """The shared applied dev environment (applied on first use)."""
    return live_env("dev")


def live_env(environment: str, project_root: Path = PROJECT_ROOT) -> LiveEnv:
    """An environment of ``project_root`` applied into a private embedded emulator, shared by the session.

    If the apply or the first read fails, this raises with the target's own message, the path where the emulator's
    log is kept and the end of that log (once, then the same message again for the other tests of the session,
    without a second apply): tests that asserted on the facts of a failed environment failed with "sources: set()"
    and no cause.
    """
    key = (environment, project_root)
    if key in _FAILED:
        raise LiveEnvFailed(_FAILED[key])
    if key not in _CACHE:
        work_dir = private_work_dir()
        # Port 0: the target starts its own emulator on a port the launcher picks and proves is its own; a free
        # port chosen here and handed over could be taken by another process before moto binds it.
        target = LocalStackTarget(context(work_dir, "http://127.0.0.1:0", environment, project_root=project_root))
        target.prepare()
        env = LiveEnv(target, target.observe(), target.endpoint, work_dir)
        problem = env.facts.errors.get("aws") or env.facts.unavailable.get("aws")
        if problem:
            kept = keep_emulator_logs(env)
            _FAILED[key] = (
                f"the live {environment} environment failed: {problem}\n"
                f"--- emulator log kept at {kept} (last lines below) ---\n{_log_tail(env)}"
            )
            target.teardown()
            shutil.rmtree(work_dir, ignore_errors=True)
            raise LiveEnvFailed(_FAILED[key])
        _CACHE[key] = env

        def _cleanup() -> None:
            target.teardown()
            shutil.rmtree(work_dir, ignore_errors=True)

        atexit.register(_cleanup)
    _note_user(_CACHE[key])
    return _CACHE[key]


def _note_user(env: LiveEnv) -> None:
    # pytest names the running test in PYTEST_CURRENT_TEST ("path::name (call)").
    current = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if current:
        _USERS[current] = env


def keep_emulator_logs(env: LiveEnv) -> Path:
    """Copy the emulator's log(s) of ``env`` to ``reports/emulator-logs/<work folder>/`` and return that folder.

    Every ``moto-*.log`` is copied, also those of starts that lost their port to another process. Called again, it
    refreshes the copies (the log keeps growing while the emulator runs).
    """
    kept = KEPT_LOGS / env.work_dir.name
    kept.mkdir(parents=True, exist_ok=True)
    logs = sorted(env.work_dir.glob("**/moto-*.log"))
    for log in logs:
        shutil.copy2(log, kept / log.name)
    if not logs:
        (kept / "README.txt").write_text(
            f"no emulator log was written under {env.work_dir} (endpoint {env.endpoint})\n"
        )
    return kept


def keep_logs_of_failed_test(nodeid: str) -> Path | None:
    """For a failed test that used a live environment: keep that environment's emulator log, return where."""
    env = _USERS.get(nodeid)
    return keep_emulator_logs(env) if env is not None else None


def emulator_log_tail(env: LiveEnv, lines: int = 80) -> str:
    """Where the shared emulator's log is kept, and its end: a failing emulator call is explained there.

    The work folder is removed at exit, so a test that sees the emulator fail puts this into its failure message;
    the log is copied to ``reports/emulator-logs/`` first.
    """
    return f"(kept at {keep_emulator_logs(env)})\n{_log_tail(env, lines)}"


def _log_tail(env: LiveEnv, lines: int = 80) -> str:
    port = env.endpoint.rsplit(":", 1)[-1]
    logs = sorted(env.work_dir.glob(f"**/moto-{port}.log")) or sorted(env.work_dir.glob("**/moto-*.log"))
    if not logs:
        return f"(no emulator log for port {port} under {env.work_dir})"
    return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])
