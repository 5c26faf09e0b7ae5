"""Process helpers: spawn detached children, identify them safely, stop them, probe ports.

A PID alone is not an identity (PIDs are reused), so the state file also records the kernel's start time of
the process (``/proc/<pid>/stat`` field 22); ``down`` signals a PID only if that start time still matches.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.3):
        return True
    return False


def proc_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None if there is no such (live) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # zombie: dead, only waiting to be reaped
        return None
    return int(fields[19])


def alive(pid: int, start_ticks: int | None = None) -> bool:
    ticks = proc_start_ticks(pid)
    if ticks is None:
        return False
    return start_ticks is None or ticks == start_ticks


def _reap(pid: int) -> None:
    # When down() runs in the process that started the child, the dead child stays a zombie until reaped.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def spawn(
    cmd: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session (so it survives us and its whole group can be signalled)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )


def stop_process(
    pid: int, start_ticks: int | None, *, first: int = signal.SIGTERM, timeout: float = 10.0, group: bool = True
) -> str:
    """Signal ``pid``'s process group (falling back to the pid), wait, then SIGKILL. Returns what happened."""
    if not alive(pid, start_ticks):
        _reap(pid)
        return "not running"
    for sig in (first, signal.SIGKILL):
        try:
            if not group:
                raise ProcessLookupError
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + (timeout if sig != signal.SIGKILL else 5.0)
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid, start_ticks):
                return "stopped" if sig == first else "killed"
            time.sleep(0.05)
    return "still running"


def wait_for_port(port: int, timeout: float, pid: int | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(port):
            return True
        if pid is not None and not alive(pid):
            return False
        time.sleep(0.05)
    return False


def wait_port_free(port: int, timeout: float) -> bool:
    """Wait until nothing listens on ``port`` (a stopped server's socket may linger for a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_listening(port):
            return True
        time.sleep(0.05)
    return not is_listening(port)
