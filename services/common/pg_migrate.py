"""A small migration runner: versioned plain-SQL files ``NNNN_name.sql`` applied in order, once each.

Each file runs in its own transaction together with its row in ``schema_migrations``, under an advisory lock so
that replicas starting together do not race. A changed checksum of an applied file is an error: applied
migrations are history, add a new file instead. ``provision`` also creates the database if missing and the
application role (LOGIN, NOSUPERUSER, NOBYPASSRLS, owning nothing) with DML rights on the tables and SELECT on
``schema_migrations``, so that the service can refuse to serve a schema older than the migrations it ships
(``SchemaVersionCheck``, one of its health checks). On EKS the owner runs ``migrate`` in a Job before the rollout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from services.common.settings import ConfigError

log = logging.getLogger(__name__)
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5E0B_51A0  # arbitrary, constant: serialises migration runs on one database
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        m = _FILE_RE.match(path.name)
        if not m:
            raise ValueError(f"migration file name {path.name!r} must look like 0001_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


def migrate(url: str, directory: Path) -> list[int]:
    """Apply pending migrations as the connecting (owner) role; returns the versions applied."""
    applied_now: list[int] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in load_migrations(directory):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
                row = conn.execute(
                    "SELECT checksum FROM schema_migrations WHERE version = %s", [migration.version]
                ).fetchone()
                if row is not None:
                    if row[0] != migration.checksum:
                        raise RuntimeError(
                            f"migration {migration.version:04d}_{migration.name} was changed after it was applied"
                        )
                    continue
                conn.execute(migration.sql.encode())  # bytes: no client-side parameter parsing of '%'
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    [migration.version, migration.name, migration.checksum],
                )
                applied_now.append(migration.version)
                log.info("migration applied", extra={"version": migration.version, "migration": migration.name})
    return applied_now


def missing_versions(conn: psycopg.Connection[Any], directory: Path) -> list[int]:
    """The versions shipped in ``directory`` that ``schema_migrations`` does not list (oldest first).

    A database without ``schema_migrations`` has none applied. Versions applied beyond those shipped are not
    an error: an older replica keeps serving during a rollout after the migration of the newer release.
    """
    shipped = [m.version for m in load_migrations(directory)]
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if not exists or not _first(exists):
            return shipped
        applied = {int(_first(row)) for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    return [v for v in shipped if v not in applied]


def _first(row: Any) -> Any:
    """The first column of a tuple row or a dict row."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


class SchemaOutOfDate(RuntimeError):
    """The database lacks migrations this build ships: the migrate Job has not run (or failed)."""


class SchemaVersionCheck:
    """Health check: the database holds every migration version this build ships.

    Raises ``SchemaOutOfDate`` naming the missing versions (the server logs it and reports NOT_SERVING, so the
    new pods of a rollout stay unready until the migrate Job has run). Once up to date the verdict is kept:
    applied migrations are never removed, so later rounds cost no query.
    """

    def __init__(self, connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]], directory: Path):
        self._connection = connection
        self._directory = directory
        self._newest = max((m.version for m in load_migrations(directory)), default=0)
        self.up_to_date = False

    def __call__(self) -> bool:
        if self.up_to_date:
            return True
        with self._connection() as conn:
            missing = missing_versions(conn, self._directory)
        if missing:
            names = ", ".join(f"{v:04d}" for v in missing)
            raise SchemaOutOfDate(
                f"database schema out of date: migration(s) {names} not applied (this build ships up to "
                f"{self._newest:04d}); run the migrate Job (python -m services.<name> migrate) as the owner"
            )
        self.up_to_date = True
        log.info("database schema up to date", extra={"version": self._newest})
        return True


def ensure_database(admin_url: str) -> None:
    """Create the URL's database if it does not exist (connecting to the ``postgres`` database to do it)."""
    params = conninfo_to_dict(admin_url)
    dbname = str(params.get("dbname") or "postgres")
    maintenance = make_conninfo(admin_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log.info("database created", extra={"database": dbname})


def grant_app_role(url: str, app_role: str, password: str | None, *, rds_iam: bool = False) -> None:
    """Create or update the application role and grant it DML on the service's tables (not on the history).

    ``rds_iam``: the role signs in with IAM database authentication (RDS role ``rds_iam``), as on EKS."""
    if not _ROLE_RE.match(app_role):
        raise ValueError(f"invalid role name {app_role!r}")
    role = sql.Identifier(app_role)
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role]).fetchone()
        attrs = sql.SQL("LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        stmt = sql.SQL("{} ROLE {} {}").format(verb, role, attrs)
        if password is not None:
            stmt = sql.SQL("{} PASSWORD {}").format(stmt, sql.Literal(password))
        conn.execute(stmt)
        dbname = conn.info.dbname
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), role))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role))
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))
        # The history: readable (the service's schema check), never writable by the app role.
        conn.execute(sql.SQL("REVOKE ALL ON schema_migrations FROM {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT ON schema_migrations TO {}").format(role))
        if rds_iam:
            conn.execute(sql.SQL("GRANT rds_iam TO {}").format(role))


def provision(
    admin_url: str, directory: Path, app_role: str, app_password: str | None, *, rds_iam: bool = False
) -> list[int]:
    """Database + migrations + application role: everything a fresh PostgreSQL needs before the service runs."""
    ensure_database(admin_url)
    applied = migrate(admin_url, directory)
    grant_app_role(admin_url, app_role, app_password, rds_iam=rds_iam)
    return applied


# --- the ``migrate`` command of the PostgreSQL services (``python -m services.<name> migrate``) -----------------


def add_migrate_command(sub: argparse._SubParsersAction[argparse.ArgumentParser], app_role: str) -> None:
    mig = sub.add_parser("migrate", help="create the database if missing, apply migrations, create the app role")
    mig.add_argument(
        "--admin-url",
        default=os.environ.get("SHOP_DATABASE_ADMIN_URL"),
        help="owner/admin connection URL (default: $SHOP_DATABASE_ADMIN_URL)",
    )
    mig.add_argument("--app-role", default=app_role, help="the role the service connects as")
    mig.add_argument("--app-password-file", help="file holding the app role's password (LOGIN)")
    mig.add_argument(
        "--admin-credentials-file",
        default=os.environ.get("SHOP_DATABASE_ADMIN_CREDENTIALS_FILE"),
        help="JSON file with the owner's username and password (the RDS-managed master user secret), used "
        "with the admin URL's host and database (default: $SHOP_DATABASE_ADMIN_CREDENTIALS_FILE)",
    )
    mig.add_argument(
        "--rds-iam",
        action="store_true",
        default=os.environ.get("SHOP_DATABASE_APP_IAM_AUTH", "").lower() in ("1", "true"),
        help="the app role signs in with RDS IAM authentication: grant it rds_iam ($SHOP_DATABASE_APP_IAM_AUTH)",
    )


def with_credentials(url: str, credentials_file: Path) -> str:
    """``url`` with the user and password of a JSON credentials file ({"username": ..., "password": ...}, the
    shape of an RDS-managed master user secret); the file is read at every run, so a rotated password is used."""
    try:
        data = json.loads(credentials_file.read_text(encoding="utf-8"))
        username, password = data["username"], data["password"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{credentials_file}: not a JSON object with username and password ({type(exc).__name__})"
        ) from None
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ConfigError(f"{credentials_file}: username and password must be non-empty strings")
    return make_conninfo(url, user=username, password=password)


def run_migrate(args: argparse.Namespace, service: str, directory: Path) -> None:
    """What ``migrate`` does; a missing admin URL is a ConfigError (the caller reports it)."""
    if not args.admin_url:
        raise ConfigError("migrate needs --admin-url or SHOP_DATABASE_ADMIN_URL")
    admin_url = args.admin_url
    if args.admin_credentials_file:
        admin_url = with_credentials(admin_url, Path(args.admin_credentials_file))
    password = None
    if args.app_password_file:
        password = Path(args.app_password_file).read_text(encoding="utf-8").strip()
    applied = provision(admin_url, directory, args.app_role, password, rds_iam=args.rds_iam)
    log.info(f"{service} database ready", extra={"applied": ",".join(map(str, applied)) or "none"})
