"""The embedded AWS emulator: moto's server on 127.0.0.1, started when no emulator answers.

Terraform plans against it so that data sources (caller identity, policy documents) resolve with no cloud; the
localstack target applies into it. A user's own LocalStack at ``AWS_ENDPOINT_URL`` is used instead when it answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from conformance.outcomes import CheckError

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def start_moto(port: int, log_dir: Path, timeout_s: float = 30.0) -> Emulator:
    """Start moto's server on 127.0.0.1:port and wait until it answers."""
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
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
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
    """Use the emulator at ``endpoint`` if one answers; otherwise start moto on that endpoint's port."""
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
    if answers(endpoint):
        return Emulator(endpoint, None, None)
    parsed = urlparse(endpoint)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise CheckError(f"no AWS emulator answers at {endpoint}, and only a loopback endpoint can be started here")
    return start_moto(parsed.port or 4566, log_dir)
