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
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A port nobody listens on *now*. It is not reserved: the probe socket is closed before the caller's server
    binds it, and another process may take it meanwhile. A server started on it must prove that it got the port
    (``moto_launcher`` checks that the listener is its own child) rather than trust whatever answers there."""
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


# --- who listens on a port (Linux: the kernel's socket tables) ---------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """A TCP socket in LISTEN state: its local address ("127.0.0.1:4566", "[::]:4566") and its socket inode."""

    address: str
    inode: int


def _decode_address(hex_address: str) -> str:
    # /proc/net/tcp{,6} print addresses as 32-bit words in host byte order (little-endian on x86 and arm64).
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words)
    return "[" + socket.inet_ntop(socket.AF_INET6, words) + "]"


def listeners(port: int) -> list[Listener]:
    """Every TCP socket listening on ``port`` (any local address, IPv4 and IPv6) in this network namespace."""
    found: list[Listener] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or fields[3] != "0A":  # 0A = TCP_LISTEN
                continue
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port:
                found.append(Listener(f"{_decode_address(address)}:{port}", int(fields[9])))
    return found


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets open in process ``pid`` (empty if it is gone or not ours to inspect)."""
    inodes: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def listens_on(pid: int, port: int) -> bool:
    """True when process ``pid`` itself holds a socket listening on ``port``: not merely "something answers"."""
    held = {listener.inode for listener in listeners(port)}
    return bool(held & socket_inodes(pid))


def describe_listeners(port: int) -> str:
    """Who listens on ``port``, for an error message: "pid 123 (java) on 0.0.0.0:4566".

    Only the pid and the process name: a command line may carry secrets. Processes of other users cannot be
    inspected without privileges; they are reported as such.
    """
    found = listeners(port)
    if not found:
        return "no listener now"
    by_inode: dict[int, list[int]] = {listener.inode: [] for listener in found}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            for inode in socket_inodes(int(entry.name)) & by_inode.keys():
                by_inode[inode].append(int(entry.name))
    parts = []
    for listener in found:
        owners = by_inode[listener.inode]
        who = ", ".join(f"pid {pid} ({process_name(pid)})" for pid in owners) or "a process this user cannot inspect"
        parts.append(f"{who} on {listener.address}")
    return "; ".join(parts)


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
