"""Start the data stores and the AWS emulator as local processes (no Docker).

Each ``start_*`` returns a ``state.Component`` once the process runs; readiness is checked separately so
all stores boot in parallel.
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from services.runner import binaries, moto_launcher, procs
from services.runner.state import Component

PG_SERVICES = ("catalog", "users")


def secret_file(root: Path, name: str) -> str:
    """A generated secret kept in ``<root>/secrets`` (0600) and reused across runs."""
    d = root / "secrets"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


# --- PostgreSQL ----------------------------------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run its binaries as the unprivileged `postgres` user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _check_traversable(path: Path) -> None:
    """The postgres user must be able to reach its data folder: every parent needs the x bit for others."""
    if os.geteuid() != 0:
        return
    for parent in path.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise RuntimeError(
                f"{parent} is not searchable by the postgres user (mode {oct(parent.stat().st_mode & 0o777)}); "
                "choose a platform root whose parent folders have o+x"
            )


def start_postgres(root: Path, port: int, log: Path) -> Component:
    pg_ctl, initdb = binaries.find("pg_ctl"), binaries.find("initdb")
    _check_traversable(root / "pg")
    data = root / "pg" / "data"
    sock = root / "pg" / "run"
    for d in (root / "pg", data, sock):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        _chown_postgres(d)
    log.parent.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        pwfile = root / "pg" / "superuser.pw"
        pwfile.write_text(secret_file(root, "postgres-superuser") + "\n")
        os.chmod(pwfile, 0o600)
        _chown_postgres(pwfile)
        res = subprocess.run(
            _as_postgres(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "-A",
                    "scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        pwfile.unlink()
        if res.returncode != 0:
            raise RuntimeError(f"initdb failed: {res.stderr.strip()[-500:]}")
    pg_log = root / "pg" / "postgres.log"  # written by the postgres user; linked from the logs folder
    if not pg_log.exists():
        pg_log.touch()
        _chown_postgres(pg_log)
    if not log.exists():
        log.symlink_to(pg_log)
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    res = subprocess.run(
        _as_postgres([pg_ctl, "start", "-D", str(data), "-l", str(pg_log), "-o", opts, "-w", "-t", "30"]),
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"pg_ctl start failed ({res.stderr.strip()[-300:]}); see {pg_log}")
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    # SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
    return Component(
        "postgres",
        "store",
        pid,
        procs.proc_start_ticks(pid),
        port,
        str(log),
        stop_signal=int(signal.SIGINT),
        signal_group=False,
        url=f"postgresql://127.0.0.1:{port}",
    )


def admin_url(root: Path, port: int, dbname: str = "postgres") -> str:
    pw = secret_file(root, "postgres-superuser")
    return f"postgresql://postgres:{pw}@127.0.0.1:{port}/{dbname}"


def provision_postgres(root: Path, port: int) -> dict[str, dict[str, str]]:
    """Per service: an owner role owning its database (runs migrations) and a plain application role
    (LOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing) that the service serves with, so RLS applies to it.
    Returns the URLs per service: {"catalog": {"database-url": ..., "migrate-database-url": ...}}."""
    out: dict[str, dict[str, str]] = {}
    with psycopg.connect(admin_url(root, port), autocommit=True) as conn:
        for svc in PG_SERVICES:
            owner, app = f"{svc}_owner", f"{svc}_app"
            owner_pw, app_pw = secret_file(root, f"pg-{owner}"), secret_file(root, f"pg-{app}")
            for role, pw in ((owner, owner_pw), (app, app_pw)):
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
                verb = sql.SQL("ALTER" if exists else "CREATE")
                conn.execute(
                    sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                        verb, sql.Identifier(role), sql.Literal(pw)
                    )
                )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [svc]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(svc), sql.Identifier(owner)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(svc)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(svc), sql.Identifier(app)))
            out[svc] = {
                "database-url": f"postgresql://{app}:{app_pw}@127.0.0.1:{port}/{svc}",
                "migrate-database-url": f"postgresql://{owner}:{owner_pw}@127.0.0.1:{port}/{svc}",
            }
    return out


def migrate_service_db(root: Path, port: int, svc: str, urls: dict[str, str], repo: Path) -> list[int]:
    """Apply the service's migrations as its owner and grant the app role DML (services.common.pg_migrate)."""
    migrations = repo / "services" / svc / "migrations"
    if not migrations.is_dir():
        return []
    from services.common import pg_migrate

    applied = pg_migrate.migrate(urls["migrate-database-url"], migrations)
    # Grants on the owner's tables, made by the superuser (the owner may not alter other roles).
    app_role = f"{svc}_app"
    pg_migrate.grant_app_role(admin_url(root, port, svc), app_role, None)
    return applied


# --- Redis ---------------------------------------------------------------------------------------------------


def start_redis(root: Path, port: int, log: Path) -> Component:
    binary = binaries.find("redis-server")
    d = root / "redis"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = d / "redis.conf"
    password = secret_file(root, "redis-auth")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            f"bind 127.0.0.1\nport {port}\nprotected-mode yes\nrequirepass {password}\ndir {d}\n"
            'daemonize no\nlogfile ""\nsave ""\nappendonly no\n'
        )
    proc = procs.spawn([binary, str(conf)], log)
    return Component(
        "redis", "store", proc.pid, procs.proc_start_ticks(proc.pid), port, str(log), url=f"redis://127.0.0.1:{port}/0"
    )


# --- MongoDB wire (nx-27017) ------------------------------------------------------------------------------------


def mongo_command(data_dir: Path, port: int, log_file: Path, pid_file: Path) -> list[str]:
    """The MongoDB-wire server's command line (mongo_wire.py says why it is not the plain nx-27017 script)."""
    return [
        sys.executable,
        "-m",
        "services.runner.mongo_wire",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "-p",
        str(port),
        "--log-file",
        str(log_file),
        "--pid-file",
        str(pid_file),
        "--threaded",
    ]


def start_mongo(root: Path, port: int, log: Path) -> Component:
    binaries.find("nx-27017")  # a missing package is one clear line, not a traceback of the child
    d = root / "mongo"
    d.mkdir(parents=True, exist_ok=True)
    cmd = mongo_command(d / "data", port, log.with_suffix(".server.log"), d / "nx-27017.pid")
    proc = procs.spawn(cmd, log)
    return Component(
        "mongo",
        "store",
        proc.pid,
        procs.proc_start_ticks(proc.pid),
        port,
        str(log),
        url=f"mongodb://127.0.0.1:{port}/?directConnection=true",
    )


# --- AWS emulator (moto server) ---------------------------------------------------------------------------------


def start_aws(
    root: Path, port: int, log: Path, python: str, *, move_if_taken: bool = False, timeout_s: float = 30.0
) -> Component:
    """moto's server through the project's one launcher; returns once *this* process listens and answers.

    ``move_if_taken``: the port was not pinned by the caller, so one lost to another process (LocalStack, a
    test's moto) is replaced by a free one; the returned component carries the port actually used.
    """
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        server = moto_launcher.start_moto_server(
            port, lambda _port: log, python=python, env=env, move_if_taken=move_if_taken, timeout_s=timeout_s
        )
    except moto_launcher.MotoStartError as exc:
        raise RuntimeError(f"aws: {exc}") from None
    pid = server.process.pid
    return Component("aws", "emulator", pid, procs.proc_start_ticks(pid), server.port, str(log), url=server.endpoint)


def wait_ready(comp: Component, timeout: float) -> None:
    if not procs.wait_for_port(comp.port, timeout, comp.pid):
        why = "exited" if not procs.alive(comp.pid) else f"did not listen on {comp.port} within {timeout:.0f}s"
        raise RuntimeError(f"{comp.name} {why}; see {comp.log}")
    # Refresh the identity: a daemon may have re-exec'd after fork.
    if comp.start_ticks is None:
        comp.start_ticks = procs.proc_start_ticks(comp.pid)
    time.sleep(0)
