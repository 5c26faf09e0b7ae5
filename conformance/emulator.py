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
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from conformance.outcomes import CheckError
from services.runner.moto_launcher import MotoStartError, start_moto_server

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


def start_moto(port: int | None, log_dir: Path, timeout_s: float = 30.0, shims: bool = False) -> Emulator:
    """Start moto's server on 127.0.0.1 and return once *that process* listens and answers.

    ``port=None`` (what private emulators should ask for) lets the launcher choose a free port and move to another
    one if a different process takes it before moto binds it; a given port that is taken fails at once, naming the
    other listener. It never accepts another server that happens to answer on the port (see
    :mod:`services.runner.moto_launcher`, the one launcher shared with the local platform's ``aws`` component).
    The log of each attempt is ``log_dir/moto-<port>.log``.

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
    env = dict(os.environ)
    # AWS managed policies (AmazonSSMManagedInstanceCore, AmazonEKSClusterPolicy...) exist only when loaded at start.
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        server = start_moto_server(
            port,
            lambda chosen: log_dir / f"moto-{chosen}.log",
            module="conformance.emulator_server" if shims else "moto.server",
            env=env,
            cwd=PROJECT_ROOT,  # so that `-m conformance.emulator_server` imports
            timeout_s=timeout_s,
        )
    except MotoStartError as exc:
        raise CheckError(f"the AWS emulator did not start: {exc}") from None
    return Emulator(server.endpoint, server.process, server.log_path)


def any_port(endpoint: str) -> bool:
    """An endpoint on port 0 asks for a private emulator on whatever free port the launcher finds."""
    return urlparse(endpoint).port == 0


def ensure_emulator(endpoint: str | None, log_dir: Path) -> Emulator:
    """Use the emulator at ``endpoint`` if one answers; otherwise start the shimmed moto on that endpoint's port.

    A loopback endpoint on port 0 (``http://127.0.0.1:0``) always starts a private shimmed moto on a free port (the
    returned ``endpoint`` says which): "pick a free port, then see whether something answers there" would take
    whatever server grabbed that port in between for an emulator we may use.
    """
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
    parsed = urlparse(endpoint)
    loopback = parsed.hostname in ("127.0.0.1", "localhost")
    if loopback and parsed.port == 0:
        return start_moto(None, log_dir, shims=True)
    # Something listening but slow to answer (LocalStack loading a service on its first request) is not "nothing":
    # starting moto on its port would fail. Give a listener time to answer.
    patience = 15.0 if port_open(parsed.hostname or "127.0.0.1", parsed.port or 4566) else 0.5
    if answers(endpoint, timeout=patience):
        return Emulator(endpoint, None, None)
    if not loopback:
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
