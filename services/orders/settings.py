"""Orders settings from the environment (names from docs/conventions.md) and secret files.

Secrets never come from the environment: the DocumentDB credentials are read from
``$SHOP_SECRETS_DIR/documentdb`` (JSON, the shape of an RDS/DocumentDB managed secret:
``{"username", "password", "host", "port"}``; ``host``/``port`` override the URL's host when present),
which External Secrets writes in the cluster and the local runner writes here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MongoCredentials:
    username: str
    password: str  # never logged; repr hides it
    host: str = ""
    port: int = 0

    def __repr__(self) -> str:
        return f"MongoCredentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class OrdersSettings:
    grpc_port: int = 50052
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_database: str = "orders"
    mongo_tls: bool = False
    # The RDS global CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem), baked
    # into the image at this path; only read when TLS is on.
    mongo_tls_ca_file: str = "/etc/ssl/certs/rds-global-bundle.pem"
    mongo_timeout_ms: int = 3000
    catalog_addr: str = "127.0.0.1:50051"
    catalog_timeout_s: float = 3.0
    secrets_dir: str = ""
    log_level: str = "INFO"
    reservation_ttl_s: int = 900
    # A RESERVING claim older than this is considered abandoned (process died mid-placement).
    claim_ttl_s: float = 30.0
    recovery_interval_s: float = 5.0
    health_interval_s: float = 2.0
    shutdown_grace_s: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> OrdersSettings:
        e = dict(os.environ if env is None else env)
        d = cls()
        return cls(
            grpc_port=int(e.get("SHOP_GRPC_PORT", d.grpc_port)),
            mongo_url=e.get("SHOP_MONGO_URL", d.mongo_url),
            mongo_database=e.get("SHOP_MONGO_DATABASE", d.mongo_database),
            mongo_tls=_bool(e.get("SHOP_MONGO_TLS", "false")),
            mongo_tls_ca_file=e.get("SHOP_MONGO_TLS_CA_FILE", d.mongo_tls_ca_file),
            mongo_timeout_ms=int(e.get("SHOP_MONGO_TIMEOUT_MS", d.mongo_timeout_ms)),
            catalog_addr=e.get("SHOP_CATALOG_ADDR", d.catalog_addr),
            catalog_timeout_s=float(e.get("SHOP_CATALOG_TIMEOUT_S", d.catalog_timeout_s)),
            secrets_dir=e.get("SHOP_SECRETS_DIR", ""),
            log_level=e.get("SHOP_LOG_LEVEL", d.log_level),
            claim_ttl_s=float(e.get("SHOP_ORDERS_CLAIM_TTL_S", d.claim_ttl_s)),
            recovery_interval_s=float(e.get("SHOP_ORDERS_RECOVERY_INTERVAL_S", d.recovery_interval_s)),
        )

    def mongo_credentials(self) -> MongoCredentials | None:
        if not self.secrets_dir:
            return None
        path = Path(self.secrets_dir) / "documentdb"
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        if not data.get("username"):
            return None
        return MongoCredentials(
            username=str(data["username"]),
            password=str(data.get("password", "")),
            host=str(data.get("host", "")),
            port=int(data.get("port", 0) or 0),
        )
