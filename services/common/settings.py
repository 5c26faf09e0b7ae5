"""Service settings from ``SHOP_*`` environment variables (docs/conventions.md) and secrets from files.

Secrets live one per file in ``SHOP_SECRETS_DIR`` (External Secrets mounts them in the cluster, the local
runner writes them here). Their values are wrapped in :class:`Secret` so a stray log line or repr never
shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Ports from docs/conventions.md; SHOP_GRPC_PORT overrides.
DEFAULT_GRPC_PORTS = {"catalog": 50051, "orders": 50052, "users": 50053}
# The /metrics endpoint of a gRPC service; each pod has its own network namespace so one default fits all.
DEFAULT_METRICS_PORT = 9090
_SECRET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_URL_PASSWORD_RE = re.compile(r"(//[^:/@\s]*:)([^@\s]*)(@)")


class ConfigError(RuntimeError):
    """A setting or secret is missing or malformed; the message names it but never shows a secret value."""


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Secrets:
    """Reads secrets from ``<dir>/<name>`` on each call, so a rotated file is picked up without a restart."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def get(self, name: str) -> Secret | None:
        if not _SECRET_NAME_RE.match(name):
            raise ConfigError(f"invalid secret name {name!r}")
        if self.directory is None:
            return None
        path = self.directory / name
        try:
            value = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        # Files written by tools usually end with a newline that is not part of the secret.
        return Secret(value.rstrip("\r\n"))

    def require(self, name: str) -> Secret:
        secret = self.get(name)
        if secret is None or not secret.reveal():
            where = (
                f"{self.directory}/{name}" if self.directory else f"SHOP_SECRETS_DIR/{name} (SHOP_SECRETS_DIR unset)"
            )
            raise ConfigError(f"secret {name!r} is required: missing or empty file {where}")
        return secret

    def __repr__(self) -> str:
        return f"Secrets(directory={self.directory!s})"


def redact_url(url: str | None) -> str | None:
    """``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``; for logs and reprs."""
    if url is None:
        return None
    return _URL_PASSWORD_RE.sub(r"\1***\3", url)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not 0 <= value <= 65535 and name.endswith("_PORT"):
        raise ConfigError(f"{name} must be a port number 0..65535, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True, repr=False)
class Settings:
    service: str
    grpc_port: int
    http_port: int  # Prometheus /metrics; 0 disables the endpoint
    database_url: str | None = None
    mongo_url: str | None = None
    redis_url: str | None = None
    catalog_addr: str | None = None
    users_addr: str | None = None
    orders_addr: str | None = None
    gateway_url: str | None = None
    secrets_dir: Path | None = None
    log_level: str = "INFO"
    otel_exporter: str = "none"  # "none", "console" or an OTLP endpoint
    grpc_host: str = "[::]"
    shutdown_grace_seconds: float = 20.0
    health_interval_seconds: float = 5.0
    secrets: Secrets = field(default_factory=lambda: Secrets(None))

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        secrets_dir = Path(env["SHOP_SECRETS_DIR"]) if env.get("SHOP_SECRETS_DIR") else None
        secrets = Secrets(secrets_dir)
        database_url = env.get("SHOP_DATABASE_URL") or None
        if database_url is None:
            # In the cluster the URL (with its password) arrives as a secret file rather than an env var.
            db_secret = secrets.get("database-url")
            database_url = db_secret.reveal() if db_secret else None
        log_level = env.get("SHOP_LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"SHOP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
        return cls(
            service=service,
            grpc_port=_int(env, "SHOP_GRPC_PORT", DEFAULT_GRPC_PORTS.get(service, 50050)),
            http_port=_int(env, "SHOP_HTTP_PORT", DEFAULT_METRICS_PORT),
            database_url=database_url,
            mongo_url=env.get("SHOP_MONGO_URL") or None,
            redis_url=env.get("SHOP_REDIS_URL") or None,
            catalog_addr=env.get("SHOP_CATALOG_ADDR") or None,
            users_addr=env.get("SHOP_USERS_ADDR") or None,
            orders_addr=env.get("SHOP_ORDERS_ADDR") or None,
            gateway_url=env.get("SHOP_GATEWAY_URL") or None,
            secrets_dir=secrets_dir,
            log_level=log_level,
            otel_exporter=env.get("SHOP_OTEL_EXPORTER", "none") or "none",
            grpc_host=env.get("SHOP_GRPC_HOST", "[::]") or "[::]",
            shutdown_grace_seconds=_float(env, "SHOP_SHUTDOWN_GRACE_SECONDS", 20.0),
            health_interval_seconds=_float(env, "SHOP_HEALTH_INTERVAL_SECONDS", 5.0),
            secrets=secrets,
        )

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigError("SHOP_DATABASE_URL is required (or a 'database-url' file in SHOP_SECRETS_DIR)")
        return self.database_url

    def __repr__(self) -> str:
        return (
            f"Settings(service={self.service!r}, grpc_port={self.grpc_port}, http_port={self.http_port}, "
            f"database_url={redact_url(self.database_url)!r}, mongo_url={redact_url(self.mongo_url)!r}, "
            f"redis_url={redact_url(self.redis_url)!r}, secrets_dir={self.secrets_dir!s}, "
            f"log_level={self.log_level!r}, otel_exporter={self.otel_exporter!r})"
        )
