"""The one way to start moto's server: the runner's ``aws`` component and the conformance suite's embedded emulator.

A start is accepted only when the port is held by *our child's own* listening socket, never because "something
answers HTTP there". Why: ports are picked with ``procs.free_port()``, which closes its probe socket before moto
binds the port, so in that gap another process (another test's moto, a LocalStack started by
``scripts/localstack.sh``, the local platform's emulator) can take it. Our moto then exits with "Address already in
use", but the other server answers on the port, and a launcher that waited for an answer handed its caller the wrong
emulator: one without the project's shims, or shared with another test (moto answering 500 to RotateSecret, an
apply failing with no visible cause).

How: moto binds the port itself (``python -m moto.server -H 127.0.0.1 -p PORT``, its documented CLI; passing it a
socket we bound would mean re-implementing ``moto.server.main``), so after the fact we ask the kernel: the socket
inode listening on the port (``/proc/net/tcp``) must be one of the child's open files (``/proc/<pid>/fd``). When the
child exits because the port is taken, the error names the port and the other listener; when the caller let us
choose the port, we try again on a fresh one a bounded number of times.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from services.runner import procs

HOST = "127.0.0.1"
ATTEMPTS = 3  # ports we try when the caller let us choose: losing the race three times in a row means a problem


class MotoStartError(RuntimeError):
    """Moto did not come up; the message says what was expected, what was found and where the log is."""

    def __init__(self, message: str, log_path: Path) -> None:
        super().__init__(message)
        self.log_path = log_path


class PortTaken(MotoStartError):
    """The port was held by another process (named in the message when it can be identified)."""

    def __init__(self, message: str, log_path: Path, port: int, holder: str) -> None:
        super().__init__(message, log_path)
        self.port = port
        self.holder = holder


@dataclass
class MotoServer:
    """A moto server process that listens on ``port`` itself."""

    process: Popen[bytes]
    port: int
    log_path: Path
    log_offset: int = 0  # where this start's output begins in the (appended) log

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        """Stop the server (its whole process group) and reap it."""
        _stop(self.process)


def start_moto_server(
    port: int | None,
    log_for: Callable[[int], Path],
    *,
    module: str = "moto.server",
    python: str = "",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 30.0,
    move_if_taken: bool | None = None,
    attempts: int = ATTEMPTS,
) -> MotoServer:
    """Start ``python -m <module> -H 127.0.0.1 -p <port>`` and return once that child listens and answers HTTP.

    ``port=None`` picks a free port. ``move_if_taken`` (default: only when ``port`` is None) lets a start that lost
    its port to another process try again on a fresh free port, up to ``attempts`` ports in all; a port the caller
    insists on fails at once with :class:`PortTaken`. ``log_for(port)`` is the log file of the attempt on that port
    (appended to). ``module`` is ``moto.server`` or an entry point taking the same arguments (the conformance
    suite's shimmed server). Raises :class:`MotoStartError` (or its :class:`PortTaken`); a failed child is stopped.
    """
    movable = port is None if move_if_taken is None else move_if_taken
    tries = max(attempts, 1) if movable else 1
    lost: list[str] = []
    for attempt in range(tries):
        candidate = port if port and attempt == 0 else procs.free_port()
        try:
            return _start_once(candidate, log_for(candidate), module, python, env, cwd, timeout_s)
        except PortTaken as exc:
            lost.append(f"port {exc.port}: {exc.holder}")
            if attempt + 1 == tries:
                if tries == 1:
                    raise
                raise PortTaken(
                    f"moto lost its port to another process {tries} times in a row ({'; '.join(lost)}); "
                    f"see {exc.log_path}",
                    exc.log_path,
                    exc.port,
                    exc.holder,
                ) from exc
    raise AssertionError("unreachable")  # the loop returns or raises


def _start_once(
    port: int,
    log_path: Path,
    module: str,
    python: str,
    env: Mapping[str, str] | None,
    cwd: Path | None,
    timeout_s: float,
) -> MotoServer:
    cmd = [python or sys.executable, "-m", module, "-H", HOST, "-p", str(port)]
    offset = log_path.stat().st_size if log_path.exists() else 0
    process = procs.spawn(cmd, log_path, env, cwd)
    server = MotoServer(process, port, log_path, offset)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise _exited(server, code)
            # Only our child's own socket counts; another listener means our child is about to exit (port taken).
            if procs.listens_on(process.pid, port) and _answers(server.endpoint):
                return server
            time.sleep(0.1)
        others = procs.describe_listeners(port)
        raise MotoStartError(
            f"moto ({module}, pid {process.pid}) did not listen and answer on {HOST}:{port} within {timeout_s:.0f}s "
            f"(listeners on the port: {others}); see {log_path}",
            log_path,
        )
    except BaseException:
        _stop(process)
        raise


def _exited(server: MotoServer, code: int) -> MotoStartError:
    tail = _tail(server.log_path, server.log_offset)
    holder = procs.describe_listeners(server.port)
    # werkzeug's own words when bind() fails with EADDRINUSE (moto.server runs on werkzeug's run_simple).
    if "Address already in use" in tail or "in use by another program" in tail:
        if holder == "no listener now":
            holder = "another process (bound at our start, released since)"
        return PortTaken(
            f"moto could not bind {HOST}:{server.port}: the port is taken by {holder}; see {server.log_path}",
            server.log_path,
            server.port,
            holder,
        )
    last = " | ".join(tail.splitlines()[-3:]) or "(empty log)"
    return MotoStartError(
        f"moto exited at start (code {code}) on port {server.port}: {last} (listeners on the port: {holder}); "
        f"see {server.log_path}",
        server.log_path,
    )


def _answers(endpoint: str) -> bool:
    """Any HTTP status counts: the server is serving (the socket is already known to be our child's)."""
    try:
        with urllib.request.urlopen(endpoint, timeout=1.0):  # noqa: S310 - loopback endpoint we started
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, offset: int, size: int = 4096) -> str:
    """The end of what this start wrote (a reused log holds earlier runs' lines before ``offset``)."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(log.tell() - size, offset))
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def _stop(process: Popen[bytes]) -> None:
    if process.poll() is None:
        procs.stop_process(process.pid, None, timeout=5.0)
    process.wait(timeout=5)
