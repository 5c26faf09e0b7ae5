"""Wiring of the catalog service: database, change feed, reservation sweeper, gRPC server."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from services.catalog.events import ChangeFeed
from services.catalog.repository import CatalogRepository
from services.catalog.servicer import CatalogServicer
from services.common.pg import Database
from services.common.pg_migrate import SchemaVersionCheck
from services.common.server import DependencyCheck, ShopServer
from services.common.settings import ConfigError, Settings
from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SERVICE_NAME = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name


class ReservationSweeper:
    """Returns the stock of expired HELD reservations, tenant by tenant, every ``interval`` seconds."""

    def __init__(self, repo: CatalogRepository, interval: float) -> None:
        self.repo = repo
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reservation-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sweep_once(self) -> int:
        total = 0
        for tenant in self.repo.tenants():
            total += self.repo.sweep_expired(tenant)
        if total:
            log.info("expired reservations released", extra={"count": total})
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep_once()
            except Exception as exc:  # the database may be down; health reports it, we retry next round
                log.warning("reservation sweep failed", extra={"error": str(exc)[:200]})


def build(settings: Settings, sweep_interval: float = 15.0, pool_size: int = 10) -> ShopServer:
    url = settings.require_database_url()
    db = Database(url, max_size=pool_size, name="catalog")
    db.open(wait=False)  # start even if PostgreSQL is down: health says NOT_SERVING until it is back
    try:
        db.assert_cannot_bypass_rls(timeout=3)
    except ConfigError:
        db.close()
        raise
    except Exception as exc:
        log.warning("database not reachable at startup", extra={"error": str(exc)[:200]})
    repo = CatalogRepository(db)
    feed = ChangeFeed(url)
    feed.start()
    sweeper = ReservationSweeper(repo, sweep_interval)
    sweeper.start()
    servicer = CatalogServicer(repo, feed, settings.secrets)

    def register(server: object) -> list[str]:
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        return [SERVICE_NAME]

    server = ShopServer(
        settings,
        register,
        checks=[
            DependencyCheck("postgresql", db.ping),
            DependencyCheck("schema", SchemaVersionCheck(lambda: db.pool.connection(timeout=2.0), MIGRATIONS)),
        ],
    )
    server.on_stop.extend([feed.stop, sweeper.stop, db.close])
    server.catalog = servicer  # type: ignore[attr-defined]  # handy for tests
    server.sweeper = sweeper  # type: ignore[attr-defined]
    return server
