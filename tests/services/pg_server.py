"""A real, throwaway PostgreSQL 15 server for integration tests.

Usage as pytest fixtures (re-export them from a conftest.py)::

    from tests.services.pg_server import pg_server, pg_server_factory  # noqa: F401

* ``pg_server`` (session scope): one running server; ``pg_server.create_database()`` gives each test module its
  own database, ``pg_server.create_role(name, password)`` a login role (no superuser, no BYPASSRLS).
* ``pg_server_factory`` (function scope): ``pg_server_factory()`` starts a private server that the test may stop
  and restart (``stop()``, ``start()``), e.g. to check health goes NOT_SERVING; all are stopped at teardown.

Or directly: ``with PgServer() as pg: pg.url("postgres")``.

The cluster lives in a temp dir (data, logs and the unix socket), listens on 127.0.0.1 and a free port, and is
run as the ``postgres`` system user through ``runuser`` when we are root (PostgreSQL refuses to run as root).
Authentication is ``trust``: the tests check authorisation (roles, RLS), not passwords. Durability is switched
off (fsync) to keep it fast on a 2-core machine. If no PostgreSQL binaries exist the fixtures skip with a
message saying what to install.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.runner.procs import free_port

_SEARCH = [
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
    "/usr/pgsql-15/bin",
    "/usr/local/pgsql/bin",
]


def find_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl (PostgreSQL 15 preferred), or None."""
    for candidate in _SEARCH:
        if (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PgServer:
    """One PostgreSQL cluster in its own temp dir. ``start()``/``stop()`` may be called repeatedly."""

    def __init__(self, bin_dir: Path | None = None, port: int | None = None) -> None:
        found = bin_dir or find_bin_dir()
        if found is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.bin_dir = found
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="shop-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root
        self.log_file = self.root / "postgres.log"
        self.superuser = "postgres"
        # PostgreSQL refuses root; as root we run it as the `postgres` system user.
        self._as_user = "postgres" if os.geteuid() == 0 else None
        if self._as_user:
            pw = pwd.getpwnam(self._as_user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        self._initdb()

    # -- process control -----------------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_user:
            cmd = ["runuser", "-u", self._as_user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}\nlog: {self.log_file}"
            )
        return result

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 64MB\n"
            )

    def start(self) -> PgServer:
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # -- connections and setup -----------------------------------------------------------------------------

    def url(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq URL over TCP (what a service would get in SHOP_DATABASE_URL)."""
        auth = user or self.superuser
        if password:
            auth += f":{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as the superuser through the unix socket; returns stdout."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.superuser,
                "-d",
                dbname,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_role(self, name: str, password: str = "test-password", *, login: bool = True) -> str:  # noqa: S107
        """A plain role: not superuser, no BYPASSRLS, no CREATEDB/CREATEROLE."""
        options = "LOGIN" if login else "NOLOGIN"
        self.psql(
            f"CREATE ROLE \"{name}\" {options} PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        )
        return name

    def create_database(self, name: str | None = None, owner: str | None = None) -> str:
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        owner_clause = f' OWNER "{owner}"' if owner else ""
        self.psql(f'CREATE DATABASE "{name}"{owner_clause}')
        return name


def _skip_reason() -> str | None:
    if find_bin_dir() is None:
        return (
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
            "install them with `apt-get install -y postgresql-15`"
        )
    return None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    server = PgServer().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_server_factory() -> Iterator[Callable[[], PgServer]]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    started: list[PgServer] = []

    def make() -> PgServer:
        server = PgServer().start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.destroy()
