"""A real MongoDB-wire server (nx-27017, SQLite-backed) for integration tests.

Usage as a pytest fixture::

    from tests.services.mongo_server import mongo_url  # noqa: F401  (re-exported fixture)

or directly with ``with MongoServer(tmp_path) as url: ...``. The server runs as a child process on a free
port in its own folder, so tests never touch a shared database and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runner import binaries
from services.runner.procs import free_port
from services.runner.stores import mongo_command


class MongoServer:
    """Start nx-27017 in ``folder`` on a free port; ``url`` is valid between start() and stop()."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 20.0) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "nx-27017.log").open("ab")
        binaries.find("nx-27017")  # not installed: one clear error here rather than a child that dies
        self.proc = subprocess.Popen(
            mongo_command(self.folder / "data", self.port, self.folder / "server.log", self.folder / "server.pid"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nx-27017 exited with {self.proc.returncode}; see {self.folder}/nx-27017.log")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nx-27017 did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_mongo(folder: Path | None = None) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="nx27017-") as tmp:
        server = MongoServer(folder or Path(tmp))
        with server as url:
            yield url


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """URL of a fresh nx-27017 server shared by the session (tests isolate by tenant / database name)."""
    with running_mongo() as url:
        yield url
