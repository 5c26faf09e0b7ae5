"""The gateway's long-lived parts (Redis, gRPC channels, breakers, cache, limiter, token verifier, watchers)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from services.gateway import metrics
from services.gateway.backends import Backend
from services.gateway.breaker import CircuitBreaker, State
from services.gateway.cache import CatalogCache
from services.gateway.invalidation import ChangeWatcher
from services.gateway.ratelimit import RateLimiter
from services.gateway.settings import GatewaySettings
from services.gateway.store import Store
from services.gateway.tokens import JwksCache, TokenVerifier
from services.protos.gen.shop.users.v1 import users_pb2


def _record_state(name: str, state: State) -> None:
    metrics.BREAKER_STATE.labels(name).set(0 if state is State.CLOSED else 1)


@dataclass
class Gateway:
    settings: GatewaySettings
    store: Store
    catalog: Backend
    users: Backend
    orders: Backend
    cache: CatalogCache
    limiter: RateLimiter
    verifier: TokenVerifier
    watcher: ChangeWatcher
    draining: bool = False
    _ready_cache: tuple[float, dict[str, bool]] = field(default=(0.0, {}))

    @classmethod
    def create(cls, settings: GatewaySettings) -> Gateway:
        def breaker(name: str) -> CircuitBreaker:
            return CircuitBreaker(
                name,
                failure_threshold=settings.breaker_failures,
                reset_timeout=settings.breaker_reset_s,
                on_state_change=_record_state,
            )

        password = settings.redis_password()
        store = Store.from_url(
            settings.redis_url,
            password.reveal() if password else None,
            breaker("redis"),
            cluster=settings.redis_cluster,
        )

        def backend(name: str, address: str, downstream: tuple[str, ...] = ()) -> Backend:
            return Backend(
                name,
                address,
                breaker(name),
                read_timeout=settings.read_timeout_s,
                write_timeout=settings.write_timeout_s,
                downstream=downstream,
            )

        catalog = backend("catalog", settings.catalog_addr)
        users = backend("users", settings.users_addr)
        orders = backend("orders", settings.orders_addr, downstream=("catalog",))  # PlaceOrder reserves stock
        cache = CatalogCache(store, ttl_s=settings.cache_ttl_s, stale_ttl_s=settings.cache_stale_ttl_s)
        limiter = RateLimiter(
            store,
            client_rate=settings.client_rate_per_s,
            client_burst=settings.client_burst,
            tenant_rate=settings.tenant_rate_per_s,
            tenant_burst=settings.tenant_burst,
            enabled=settings.rate_limit_enabled,
        )

        async def fetch_jwks() -> str:
            resp = await users.read("GetJwks", users_pb2.GetJwksRequest(), Backend.metadata(None))
            return str(resp.jwks_json)

        verifier = TokenVerifier(
            JwksCache(fetch_jwks, ttl=settings.jwks_ttl_s, min_refresh_interval=settings.jwks_min_refresh_interval_s)
        )
        watcher = ChangeWatcher(catalog, cache, enabled=settings.watch_changes)
        return cls(settings, store, catalog, users, orders, cache, limiter, verifier, watcher)

    def seen_tenant(self, tenant: str) -> None:
        self.watcher.ensure(tenant)

    async def dependencies(self) -> dict[str, bool]:
        """Health of each dependency, cached for a second so probes and readiness polls stay cheap."""
        at, result = self._ready_cache
        if time.monotonic() - at < 1.0 and result:
            return result
        checks = await asyncio.gather(
            self.store.ping(), self.catalog.healthy(), self.users.healthy(), self.orders.healthy()
        )
        result = dict(zip(("redis", "catalog", "users", "orders"), checks, strict=True))
        self._ready_cache = (time.monotonic(), result)
        return result

    async def close(self) -> None:
        await self.watcher.close()
        for backend in (self.catalog, self.users, self.orders):
            await backend.close()
        await self.store.close()
