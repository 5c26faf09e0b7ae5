"""The embedded AWS emulator: moto's server on 127.0.0.1, started when no emulator answers.

Terraform plans against it so that data sources (caller identity, policy documents) resolve with no cloud; the
localstack target applies into it. A user's own LocalStack at ``AWS_ENDPOINT_URL`` is used instead when it answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from conformance.outcomes import CheckError

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def answers(endpoint: str, timeout: float = 0.5) -> bool:
    """True when something speaks HTTP at the endpoint (any status counts: the emulator is up)."""
    try:
        with urllib.request.urlopen(endpoint, timeout=timeout):  # noqa: S310 - loopback endpoint we were given
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Emulator:
    """A running emulator; ``process`` is None when it was already running and is not ours to stop."""

    endpoint: str
    process: subprocess.Popen[bytes] | None
    log_path: Path | None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_moto(port: int, log_dir: Path, timeout_s: float = 30.0, shims: bool = False) -> Emulator:
    """Start moto's server on 127.0.0.1:port and wait until it answers.

    With ``shims`` the server is launched through :mod:`conformance.emulator_server`, which patches moto's gaps
    (DocumentDB, ElastiCache members, EKS add-ons...) so that a full ``terraform apply`` succeeds.
    """
    try:
        import moto.server  # noqa: F401  - only to fail early with a clear message
    except ImportError as exc:
        raise CheckError(
            "the embedded AWS emulator needs moto's server: run `bash scripts/setup.sh` (installs .[emulator])"
        ) from exc
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"moto-{port}.log"
    env = dict(os.environ)
    # AWS managed policies (AmazonSSMManagedInstanceCore, AmazonEKSClusterPolicy...) exist only when loaded at start.
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conformance.emulator_server" if shims else "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,  # so that `-m conformance.emulator_server` imports
            start_new_session=True,  # a Ctrl-C in the terminal that started it does not kill a shared emulator
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckError(f"the AWS emulator exited at start (code {process.returncode}); see {log_path}")
        if answers(endpoint):
            return Emulator(endpoint, process, log_path)
        time.sleep(0.2)
    process.kill()
    raise CheckError(f"the AWS emulator did not answer at {endpoint} within {timeout_s:.0f}s; see {log_path}")


def ensure_emulator(endpoint: str | None, log_dir: Path) -> Emulator:
    """Use the emulator at ``endpoint`` if one answers; otherwise start the shimmed moto on that endpoint's port."""
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
    parsed = urlparse(endpoint)
    # Something listening but slow to answer (LocalStack loading a service on its first request) is not "nothing":
    # starting moto on its port would fail. Give a listener time to answer.
    patience = 15.0 if port_open(parsed.hostname or "127.0.0.1", parsed.port or 4566) else 0.5
    if answers(endpoint, timeout=patience):
        return Emulator(endpoint, None, None)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise CheckError(
            f"no AWS emulator answers at {endpoint}; only a loopback endpoint can be started here "
            "(start LocalStack with `bash scripts/localstack.sh start`, or unset AWS_ENDPOINT_URL)"
        )
    return start_moto(parsed.port or 4566, log_dir, shims=True)


# ----------------------------------------------------------------------------------- engines and the state file

MOTO = "moto"
LOCALSTACK = "localstack"

# What LocalStack's community edition cannot serve: the collectors of these services report "not observable".
LOCALSTACK_COMMUNITY_MISSING = frozenset({"rds", "docdb", "eks", "elasticache", "elbv2"})


def detect_engine(endpoint: str, timeout: float = 10.0) -> str:
    """Which emulator answers: LocalStack has /_localstack/health, moto has /moto-api/; else "unknown"."""
    # /moto-api/ (its small dashboard page), not data.json, which dumps the whole state and is slow after an apply.
    for path, engine in (("/_localstack/health", LOCALSTACK), ("/moto-api/", MOTO)):
        try:
            with urllib.request.urlopen(endpoint.rstrip("/") + path, timeout=timeout) as response:  # noqa: S310
                if response.status == 200:
                    return engine
        except (urllib.error.URLError, OSError, ValueError):
            continue
    return "unknown"


# The collectors' service names as LocalStack's health endpoint names them (DocumentDB is served by RDS).
_LOCALSTACK_NAMES = {"docdb": "rds"}


def unavailable_services(engine: str, endpoint: str, wanted: tuple[str, ...] = ()) -> dict[str, str]:
    """Services the engine at ``endpoint`` cannot serve, with the reason, for Facts.unavailable.

    LocalStack lists what it serves at /_localstack/health; when that cannot be read, its community edition's known
    gaps are assumed.
    """
    if engine != LOCALSTACK:
        return {}
    served: set[str] | None = None
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/_localstack/health", timeout=10) as response:  # noqa: S310
            served = set(json.loads(response.read()).get("services", {}))
    except (urllib.error.URLError, OSError, ValueError):
        served = None
    if served is None:
        missing = set(LOCALSTACK_COMMUNITY_MISSING)
    else:
        missing = {s for s in wanted if _LOCALSTACK_NAMES.get(s, s) not in served}
    return {service: f"LocalStack at {endpoint} does not emulate {service}" for service in sorted(missing)}


def state_path(state_dir: Path, endpoint: str) -> Path:
    """One state file per port: several emulators (a developer's, a test's) can run side by side."""
    return state_dir / f"emulator-{urlparse(endpoint).port or 4566}.json"


def write_state(state_dir: Path, emulator: Emulator) -> Path:
    """Record a started emulator so that `shopctl emulator stop|status` work from another process."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_path(state_dir, emulator.endpoint)
    pid = emulator.process.pid if emulator.process is not None else None
    path.write_text(
        json.dumps({"pid": pid, "endpoint": emulator.endpoint, "log": str(emulator.log_path), "started": time.time()})
    )
    return path


def read_state(state_dir: Path, endpoint: str) -> dict[str, Any] | None:
    path = state_path(state_dir, endpoint)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_recorded(state_dir: Path, endpoint: str, timeout_s: float = 10.0) -> str:
    """Stop the emulator recorded for this endpoint (only that pid); returns what was done."""
    state = read_state(state_dir, endpoint)
    if state is None or not state.get("pid"):
        return f"no emulator recorded for {endpoint} in {state_dir}"
    pid = int(state["pid"])
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    state_path(state_dir, endpoint).unlink(missing_ok=True)
    return f"stopped the emulator (pid {pid}) at {state['endpoint']}"
