"""Wiring: settings -> Mongo client, catalog channel, service, gRPC server with dependency-aware health."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pymongo import MongoClient

from services.common import client as grpc_client
from services.common.pagination import PageTokens
from services.common.server import DependencyCheck, ShopServer
from services.common.settings import Settings
from services.orders.adapters.mongo_client import Document, make_client
from services.orders.adapters.repository import MongoOrderRepository, ensure_indexes
from services.orders.catalog_port import GrpcCatalog
from services.orders.grpc_api import register
from services.orders.service import OrdersService
from services.orders.settings import OrdersSettings

log = logging.getLogger("services.orders")


@dataclass
class OrdersApp:
    server: ShopServer
    service: OrdersService
    mongo: MongoClient[Document]
    stop_recovery: threading.Event


def build(common: Settings, settings: OrdersSettings) -> OrdersApp:
    mongo = make_client(settings)
    repo = MongoOrderRepository(mongo, settings.mongo_database)
    catalog = GrpcCatalog(grpc_client.channel(settings.catalog_addr), timeout=settings.catalog_timeout_s)
    service = OrdersService(repo, catalog, claim_ttl_s=settings.claim_ttl_s, page_tokens=PageTokens(common.secrets))
    indexes_ready = threading.Event()

    def store_check() -> bool:
        # Health is NOT_SERVING until the store answers and the unique indexes exist (idempotency needs them).
        mongo.admin.command("ping")
        if not indexes_ready.is_set():
            ensure_indexes(mongo, settings.mongo_database)
            indexes_ready.set()
        return True

    server = ShopServer(
        settings=common, register=register(service), checks=[DependencyCheck("documentdb", store_check)]
    )
    stop = threading.Event()

    def recovery_loop() -> None:
        while not stop.wait(settings.recovery_interval_s):
            if not indexes_ready.is_set():
                continue
            try:
                stats = service.recover_once()
                if any(vars(stats).values()):
                    log.info("recovery sweep", extra=vars(stats))
            except Exception as exc:  # the store may be down; health reports it, the next sweep retries
                log.warning("recovery sweep failed: %s", str(exc)[:300])

    threading.Thread(target=recovery_loop, name="orders-recovery", daemon=True).start()
    service.committer.start()
    server.on_stop.append(stop.set)
    server.on_stop.append(service.committer.stop)  # after the server drained: commit what its last orders queued
    server.on_stop.append(mongo.close)
    return OrdersApp(server, service, mongo, stop)
