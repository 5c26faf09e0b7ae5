"""A real Redis cluster for tests: ``redis-server --cluster-enabled yes`` processes on free ports in a temporary
directory, joined by ``redis-cli --cluster create``. Three primaries (the 16384 slots split in three) and, by
default, one replica each, like an ElastiCache cluster-mode replication group with three node groups.

``url`` points at a REPLICA on purpose: an ElastiCache configuration endpoint may resolve to any node, and a
client that only talks to the node it was given gets MOVED for writes there (and for every key of another shard).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runner.procs import free_port


class RedisCluster:
    def __init__(self, folder: Path, primaries: int = 3, replicas: int = 1) -> None:
        self.folder = folder
        self.primaries = primaries
        self.replicas = replicas
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, port: int, *args: str, timeout: float = 10.0) -> str:
        binary = shutil.which("redis-cli")
        if binary is None:
            pytest.skip("redis-cli not installed (apt-get install -y redis-server)")
        done = subprocess.run(
            [binary, "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def _spawn(self, binary: str, port: int) -> subprocess.Popen[bytes]:
        folder = self.folder / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        log = (folder / "redis.log").open("ab")
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def _serves(self, port: int, proc: subprocess.Popen[bytes]) -> bool:
        """Whether ``port`` is answered by ``proc`` (free_port does not reserve the port: another server may have
        taken it between the probe and our bind, and a connection would then reach that server)."""
        try:
            info = self.cli(port, "info", "server", timeout=2)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return f"process_id:{proc.pid}" in info.split()

    def start(self, timeout: float = 60.0) -> RedisCluster:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server not installed (apt-get install -y redis-server)")
        count = self.primaries * (1 + self.replicas)
        deadline = time.monotonic() + timeout
        while len(self.ports) < count:
            port = free_port()
            proc = self._spawn(binary, port)
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                if proc.poll() is not None:
                    break  # the port was taken meanwhile (free_port does not reserve it): try another one
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("redis-server (cluster node) did not start")
                time.sleep(0.05)
            if proc.poll() is None and self._serves(port, proc):
                self.ports.append(port)
                self.procs.append(proc)
            elif proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        self.cli(
            self.ports[0],
            "--cluster",
            "create",
            *nodes,
            "--cluster-replicas",
            str(self.replicas),
            "--cluster-yes",
            timeout=timeout,
        )
        while not self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ready: {self.cli(self.ports[0], 'cluster', 'info')}")
            time.sleep(0.1)
        return self

    def healthy(self) -> bool:
        """Every node sees the whole cluster, all slots served, every replica synced to its primary."""
        try:
            for port in self.ports:
                info = self.cli(port, "cluster", "info")
                if "cluster_state:ok" not in info or f"cluster_known_nodes:{len(self.ports)}" not in info:
                    return False
            # The roles as the first node sees them: a replica is listed as one once its REPLICATE got around.
            primaries, replicas = self.primary_ports(), self.replica_ports()
            if len(primaries) != self.primaries or len(replicas) != self.primaries * self.replicas:
                return False
            return all("master_link_status:up" in self.cli(p, "info", "replication") for p in replicas)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False  # a node busy (loading, syncing) or slow to answer: ask again

    def _nodes(self) -> list[list[str]]:
        return [line.split() for line in self.cli(self.ports[0], "cluster", "nodes").splitlines() if line.strip()]

    def primary_ports(self) -> list[int]:
        return sorted(int(n[1].split(":")[1].split("@")[0]) for n in self._nodes() if "master" in n[2])

    def replica_ports(self) -> list[int]:
        return sorted(int(n[1].split(":")[1].split("@")[0]) for n in self._nodes() if "slave" in n[2])

    def owner(self, slot: int) -> int:
        """The port of the primary serving ``slot``."""
        for n in self._nodes():
            if "master" not in n[2]:
                continue
            for part in n[8:]:
                low, _, high = part.partition("-")
                if not low.isdigit():
                    continue
                if int(low) <= slot <= int(high or low):
                    return int(n[1].split(":")[1].split("@")[0])
        raise LookupError(f"slot {slot} not served")

    @property
    def url(self) -> str:
        replicas = self.replica_ports() if self.replicas else []
        return f"redis://127.0.0.1:{(replicas or self.ports)[0]}/0"

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = []


@contextlib.contextmanager
def running_cluster(primaries: int = 3, replicas: int = 1) -> Iterator[RedisCluster]:
    with tempfile.TemporaryDirectory(prefix="redis-cluster-") as tmp:
        cluster = RedisCluster(Path(tmp), primaries, replicas)
        try:
            yield cluster.start()
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """Three shards with a replica each, shared by the session's cluster-mode tests."""
    with running_cluster() as cluster:
        yield cluster
