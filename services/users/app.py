"""Wiring of the users service: database, key ring (with its rotation timer), tokens, sign-in throttle, gRPC server."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from services.common.pg import Database
from services.common.pg_migrate import SchemaVersionCheck
from services.common.server import DependencyCheck, ShopServer
from services.common.settings import ConfigError, Settings
from services.protos.gen.shop.users.v1 import users_pb2, users_pb2_grpc
from services.users.keys import KeyRing
from services.users.passwords import Passwords
from services.users.repository import UsersRepository
from services.users.servicer import UsersServicer
from services.users.throttle import SignInLimits, SignInThrottle
from services.users.tokens import TokenService

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE_NAME = users_pb2.DESCRIPTOR.services_by_name["UsersService"].full_name
# Calls made before a tenant exists or by clients that have none.
TENANT_EXEMPT = frozenset({f"/{SERVICE_NAME}/CreateTenant", f"/{SERVICE_NAME}/GetJwks"})


def build(
    settings: Settings,
    *,
    access_ttl_seconds: int = 900,
    rotation_seconds: float = 7 * 24 * 3600,
    passwords: Passwords | None = None,
    pool_size: int = 10,
    sign_in_limits: SignInLimits | None = None,
) -> ShopServer:
    """The users server, not started. ``sign_in_limits`` default: from the ``SHOP_SIGNIN_*`` environment."""
    limits = sign_in_limits or SignInLimits.from_env()
    url = settings.require_database_url()
    kek = settings.secrets.require("jwt-keys")
    db = Database(url, max_size=pool_size, name="users")
    db.open(wait=False)  # start even if PostgreSQL is down: health says NOT_SERVING until it is back
    try:
        db.assert_cannot_bypass_rls(timeout=3)
    except ConfigError:
        db.close()
        raise
    except Exception as exc:
        log.warning("database not reachable at startup", extra={"error": str(exc)[:200]})
    # Overlap: a retired key stays published for two access-token lifetimes, so every token it signed expires
    # while its key is still in the JWKS, with margin for gateways that cache the JWKS.
    keys = KeyRing(db, kek, rotation_seconds=rotation_seconds, overlap_seconds=2 * access_ttl_seconds)
    try:
        keys.ensure_current()
    except Exception as exc:  # retried by the health check until the database is there
        log.warning("signing keys not loaded yet", extra={"error": str(exc)[:200]})
    tokens = TokenService(keys, access_ttl_seconds)
    servicer = UsersServicer(
        UsersRepository(db),
        tokens,
        passwords or Passwords(),
        settings.secrets,
        SignInThrottle(db, kek, limits),
    )
    stop = threading.Event()

    def rotate_loop() -> None:
        while not stop.wait(min(60.0, rotation_seconds / 4)):
            try:
                keys.ensure_current()
            except Exception as exc:
                log.warning("key rotation check failed", extra={"error": str(exc)[:200]})

    threading.Thread(target=rotate_loop, name="jwt-key-rotation", daemon=True).start()

    def register(server: object) -> list[str]:
        users_pb2_grpc.add_UsersServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        return [SERVICE_NAME]

    server = ShopServer(
        settings,
        register,
        checks=[
            DependencyCheck("postgresql", db.ping),
            DependencyCheck("schema", SchemaVersionCheck(lambda: db.pool.connection(timeout=2.0), MIGRATIONS)),
        ],
        tenant_exempt_methods=TENANT_EXEMPT,
    )
    server.on_stop.extend([stop.set, db.close])
    server.users = servicer  # type: ignore[attr-defined]  # handy for tests
    return server
