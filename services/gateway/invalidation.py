"""Consumes catalog's WatchProductChanges stream (one per tenant) and invalidates that tenant's cache.

catalog publishes changes through PostgreSQL NOTIFY and streams them per tenant; delivery is at-most-once and
every (re)connected stream starts with RESYNC, on which the whole tenant cache is dropped. A tenant's watcher
starts when the gateway first serves that tenant. If Redis is down when an event arrives the tenant is marked
dirty and its generation is bumped as soon as Redis answers again, so no stale entry survives the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
import grpc.aio

from services.gateway import metrics
from services.gateway.backends import Backend
from services.gateway.cache import CatalogCache
from services.gateway.store import RedisDown
from services.protos.gen.shop.catalog.v1 import catalog_pb2

log = logging.getLogger(__name__)
MAX_TENANTS = 1000


class ChangeWatcher:
    def __init__(self, catalog: Backend, cache: CatalogCache, *, enabled: bool = True) -> None:
        self.catalog = catalog
        self.cache = cache
        self.enabled = enabled
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self.connected: dict[str, bool] = {}
        self.events = 0

    def ensure(self, tenant: str) -> None:
        if not self.enabled or tenant in self._tasks or len(self._tasks) >= MAX_TENANTS:
            return
        self._tasks[tenant] = asyncio.get_running_loop().create_task(self._run(tenant), name=f"watch-{tenant}")
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="watch-flusher")

    async def _run(self, tenant: str) -> None:
        backoff = 0.2
        while True:
            try:
                md = Backend.metadata(tenant)
                async for event in self.catalog.stream(
                    "WatchProductChanges", catalog_pb2.WatchProductChangesRequest(), md
                ):
                    self.connected[tenant] = True
                    backoff = 0.2
                    await self._apply(tenant, event)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    log.warning("catalog change stream failed", extra={"tenant": tenant, "code": exc.code().name})
            except Exception:
                log.exception("catalog change stream error", extra={"tenant": tenant})
            self.connected[tenant] = False
            # Changes may be missed while disconnected: the next stream starts with RESYNC, which drops the cache.
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _apply(self, tenant: str, event: catalog_pb2.ProductChangeEvent) -> None:
        self.events += 1
        kind = catalog_pb2.ProductChangeEvent.Kind.Name(event.kind)
        metrics.INVALIDATIONS.labels(kind).inc()
        try:
            await self.cache.invalidate_tenant(tenant)
        except RedisDown:
            self._dirty.add(tenant)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for tenant in list(self._dirty):
                try:
                    await self.cache.invalidate_tenant(tenant)
                except RedisDown:
                    break
                self._dirty.discard(tenant)

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *([self._flusher] if self._flusher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
