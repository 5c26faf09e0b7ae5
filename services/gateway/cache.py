"""Cache-aside for catalog reads in Redis: TTL jitter, single-flight, generation invalidation, stale fallback.

Keys (all under the tenant's prefix ``{t:<tenant>}``, so cached pages never cross tenants; the braces are a Redis
cluster hash tag that puts a tenant's cache and rate-limit keys in one slot, see keys.py):
  ``{t:<tenant>}:cache:gen``            the tenant's cache generation; a catalog change event increments it;
  ``{t:<tenant>}:cache:<kind>:<hash>``  a fresh entry ``<generation it was read under>\n<body>``;
  ``{t:<tenant>}:stale:<kind>:<hash>``  a long-lived copy, used only when catalog fails;
  ``{t:<tenant>}:lock:<kind>:<hash>``   the single-flight lock (SET NX PX).
An entry is fresh only if its generation equals the current one. The generation is read BEFORE fetching from
catalog, so a fill that races with an invalidation is written under the old generation and is never served.
The body is stored as the exact JSON bytes the client gets: a hit is returned as is, never parsed or re-encoded.
One round trip reads the generation and the entry: usually the rate limiter's script (``prefetch``), else one
pipeline (no cross-slot command, so cluster mode works).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.gateway import metrics
from services.gateway.backends import DependencyFailure
from services.gateway.keys import tenant_tag
from services.gateway.ratelimit import Prefetched
from services.gateway.store import Client, RedisDown, Store

log = logging.getLogger(__name__)
Fetch = Callable[[], Awaitable[bytes]]
# The generation and entry the rate limiter's script already read for this request (see ratelimit.GATE_LUA).
# Consumed by the first matching read; a read of any other key (another tenant, kind or digest) ignores it.
_prefetched: contextvars.ContextVar[Prefetched | None] = contextvars.ContextVar("gateway_cache_prefetch", default=None)


def prefetch(values: Prefetched | None) -> None:
    """Hand the cache what the gate read, for the current request's context only."""
    _prefetched.set(values)


def cache_keys(tenant: str, kind: str, digest: str) -> tuple[str, str]:
    """(generation key, fresh entry key) of one cached read."""
    tag = tenant_tag(tenant)
    return f"{tag}:cache:gen", f"{tag}:cache:{kind}:{digest}"


def _decode_entry(raw_entry: bytes | None, current: int) -> bytes | None:
    """The body of an entry filled under generation ``current``; None for another generation or a bad entry."""
    if raw_entry is None:
        return None
    generation, sep, body = raw_entry.partition(b"\n")
    if not sep:
        return None
    try:
        return body if int(generation) == current else None
    except ValueError:
        return None


@dataclass(frozen=True)
class CacheResult:
    body: bytes
    outcome: str  # HIT, MISS, STALE, BYPASS


@functools.lru_cache(maxsize=4096)
def key_hash(*parts: object) -> str:
    # Memoised: the hot reads ask for the same few pages over and over (5 % of a cached read's CPU otherwise).
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:32]


class CatalogCache:
    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float,
        stale_ttl_s: float,
        lock_ttl_s: float = 3.0,
        wait_s: float = 1.0,
        jitter: float = 0.2,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.stale_ttl_s = stale_ttl_s
        self.lock_ttl_s = lock_ttl_s
        self.wait_s = wait_s
        self.jitter = jitter
        # In-process single flight: concurrent misses for one key in this replica share one fetch.
        self._inflight: dict[str, asyncio.Future[CacheResult]] = {}
        self.fetches = 0  # catalog fetches made through the cache (observability and tests)

    def _ttl(self) -> int:
        # Jitter spreads expiries so entries filled together (after a deploy or a RESYNC) do not expire together.
        return max(1, int(self.ttl_s * 1000 * random.uniform(1 - self.jitter, 1 + self.jitter)))

    async def get(self, tenant: str, kind: str, digest: str, fetch: Fetch) -> CacheResult:
        key = f"t:{tenant}:{kind}:{digest}"
        running = self._inflight.get(key)
        if running is not None:
            metrics.CACHE.labels("coalesced").inc()
            return await asyncio.shield(running)
        future: asyncio.Future[CacheResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._get(tenant, kind, digest, fetch)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it, nobody else must log "never retrieved"
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    async def _get(self, tenant: str, kind: str, digest: str, fetch: Fetch) -> CacheResult:
        gen_key, fresh_key = cache_keys(tenant, kind, digest)
        tag = tenant_tag(tenant)
        try:
            generation, entry = await self._read(gen_key, fresh_key)
        except RedisDown:
            metrics.CACHE.labels("bypass").inc()
            return CacheResult(await self._fetch(fetch), "BYPASS")
        if entry is not None:
            metrics.CACHE.labels("hit").inc()
            return CacheResult(entry, "HIT")
        lock_key = f"{tag}:lock:{kind}:{digest}"
        token = uuid.uuid4().hex
        try:
            got_lock = await self.store.run(lambda r: r.set(lock_key, token, nx=True, px=int(self.lock_ttl_s * 1000)))
        except RedisDown:
            got_lock = True  # cannot coordinate: fetch ourselves
        if not got_lock:
            # Another replica is fetching this key: wait briefly for its fill instead of hitting catalog too.
            waited = 0.0
            while waited < self.wait_s:
                await asyncio.sleep(0.02)
                waited += 0.02
                try:
                    _, entry = await self._read(gen_key, fresh_key, generation)
                except RedisDown:
                    break
                if entry is not None:
                    metrics.CACHE.labels("coalesced").inc()
                    return CacheResult(entry, "HIT")
        stale_key = f"{tag}:stale:{kind}:{digest}"
        try:
            body = await self._fetch(fetch)
        except DependencyFailure:
            stale = await self._stale(stale_key)
            if stale is None:
                raise
            metrics.CACHE.labels("stale").inc()
            return CacheResult(stale, "STALE")
        finally:
            if got_lock:
                await self._unlock(lock_key, token)
        metrics.CACHE.labels("miss").inc()
        await self._fill(fresh_key, stale_key, generation, body)
        return CacheResult(body, "MISS")

    async def _fetch(self, fetch: Fetch) -> bytes:
        self.fetches += 1
        return await fetch()

    async def _read(self, gen_key: str, fresh_key: str, generation: int | None = None) -> tuple[int, bytes | None]:
        ahead = _prefetched.get()
        if ahead is not None and generation is None and ahead[0] == gen_key and ahead[1] == fresh_key:
            _prefetched.set(None)  # one use: a later read (single-flight wait) must see Redis's current state
            raw_gen, raw_entry = ahead[2], ahead[3]
        else:

            async def op(r: Client) -> list[Any]:
                pipe = r.pipeline(transaction=False)
                pipe.get(gen_key)
                pipe.get(fresh_key)
                return list(await pipe.execute())

            raw_gen, raw_entry = await self.store.run(op)
        try:
            current = int(raw_gen or 0)
        except ValueError:
            current = 0
        if generation is not None and generation != current:
            return current, None
        return current, _decode_entry(raw_entry, current)

    async def _fill(self, fresh_key: str, stale_key: str, generation: int, body: bytes) -> None:
        entry = str(generation).encode() + b"\n" + body

        async def op(r: Client) -> None:
            pipe = r.pipeline(transaction=False)
            pipe.set(fresh_key, entry, px=self._ttl())
            pipe.set(stale_key, body, px=int(self.stale_ttl_s * 1000))
            await pipe.execute()

        with contextlib.suppress(RedisDown):
            await self.store.run(op)

    async def _stale(self, stale_key: str) -> bytes | None:
        try:
            raw = await self.store.run(lambda r: r.get(stale_key))
        except RedisDown:
            return None
        return raw.encode() if isinstance(raw, str) else raw

    async def _unlock(self, lock_key: str, token: str) -> None:
        # Delete only our own lock (it may have expired and been taken by another replica meanwhile).
        script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
        with contextlib.suppress(RedisDown):
            await self.store.run(lambda r: r.eval(script, 1, lock_key, token))

    async def invalidate_tenant(self, tenant: str) -> None:
        """Every cached catalog read of ``tenant`` becomes a miss (stale copies stay for outages)."""
        await self.store.run(lambda r: r.incr(f"{tenant_tag(tenant)}:cache:gen"))
