"""One dev environment applied into a private embedded emulator, shared by the live engine tests of a session.

The apply is the expensive part (about three minutes on two cores), so the first test that needs it applies, the
others reuse it, and the emulator is stopped when the interpreter exits. Everything lives on a free port and in a
private work folder, so a developer's own emulator on 4566 and parallel runs are never touched.
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
from services.runner.procs import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveEnv:
    target: LocalStackTarget
    facts: Facts
    endpoint: str
    work_dir: Path


_CACHE: dict[str, LiveEnv] = {}


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


def context(work_dir: Path, endpoint: str | None, environment: str = "dev", keep: bool = False) -> RunContext:
    return RunContext(
        environment=environment, project_root=PROJECT_ROOT, work_dir=work_dir, endpoint=endpoint, keep=keep
    )


class LiveEnvFailed(RuntimeError):
    """The shared environment could not be applied or read: every test that needs it fails with the same cause."""


_FAILED: dict[str, str] = {}


def live_dev() -> LiveEnv:
    """The shared applied dev environment (applied on first use).

    If the apply or the first read fails, this raises with the target's own message and the end of the emulator's
    log (once, then the same message again for the other tests of the session, without a second apply): tests
    that asserted on the facts of a failed environment failed with "sources: set()" and no cause.
    """
    if "dev" in _FAILED:
        raise LiveEnvFailed(_FAILED["dev"])
    if "dev" not in _CACHE:
        work_dir = private_work_dir()
        endpoint = f"http://127.0.0.1:{free_port()}"
        target = LocalStackTarget(context(work_dir, endpoint))
        target.prepare()
        env = LiveEnv(target, target.observe(), endpoint, work_dir)
        problem = env.facts.errors.get("aws") or env.facts.unavailable.get("aws")
        if problem:
            log_tail = emulator_log_tail(env)
            _FAILED["dev"] = f"the live dev environment failed: {problem}\n--- emulator log ---\n{log_tail}"
            target.teardown()
            raise LiveEnvFailed(_FAILED["dev"])
        _CACHE["dev"] = env

        def _cleanup() -> None:
            target.teardown()
            shutil.rmtree(work_dir, ignore_errors=True)

        atexit.register(_cleanup)
    return _CACHE["dev"]


def emulator_log_tail(env: LiveEnv, lines: int = 80) -> str:
    """The end of the shared emulator's log: a failing emulator call is explained there (the folder is removed at
    exit, so a test that sees the emulator fail should put this into its failure message)."""
    port = env.endpoint.rsplit(":", 1)[-1]
    logs = sorted(env.work_dir.glob(f"**/moto-{port}.log"))
    if not logs:
        return f"(no emulator log for port {port} under {env.work_dir})"
    return "\n".join(logs[0].read_text(errors="replace").splitlines()[-lines:])
