"""Token-bucket rate limiting in Redis, per client AND per tenant, atomically in a Lua script.

Why two buckets: the per-client bucket stops one noisy client; the per-tenant bucket caps a whole storefront so a
burst on tenant A spends only A's tokens and tenant B keeps its own full bucket. The client bucket is checked
first: a client already over its limit does not drain its tenant's. When Redis is down the limiter fails open
(availability over strictness) and counts it.

One round trip per request: both buckets are taken by ONE script call (``GATE_LUA``), which on the cached catalog
reads also returns the tenant's cache generation and the cache entry, so a cache hit costs a single Redis round
trip instead of three (the limiter's two and the cache's one took ~22 % of a cached read's CPU).

Cluster mode: a script may only touch keys of one hash slot. Every key the script touches carries the hash tag
``{t:<tenant>}`` (``{t:acme}:rl:c:<client>``, ``{t:acme}:rl:tenant``, ``{t:acme}:cache:...``; see
:func:`keys.tenant_tag`), so all of a tenant's limiter and cache keys live in one slot. The trade-off: one busy tenant's
keys cannot be spread over shards (a tenant's load is bounded by its rate limit anyway).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError

from services.gateway import metrics
from services.gateway.keys import tenant_tag
from services.gateway.store import Client, RedisDown, Store

# KEYS[1] bucket; ARGV: rate (tokens/s), burst (capacity), cost, now_ms ("" = Redis server time).
# State: hash {tokens, ts}. Returns {allowed (0/1), tokens left (floor), retry_after_ms}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  ts = now
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, math.floor(tokens), retry}
"""  # noqa: S105 - a Lua script, not a secret


# KEYS[1] client bucket, KEYS[2] tenant bucket, optionally KEYS[3] cache generation and KEYS[4] cache entry (all
# in one hash slot). ARGV: enabled ("1"/"0"), client rate, client burst, tenant rate, tenant burst.
# Returns {verdict (1 allowed, 0 client limit, -1 tenant limit), tokens left (floor), retry_after_ms
# [, generation or nil, entry or nil]}; the cache keys are read only when the request is allowed.
GATE_LUA = """
local function take(key, rate, burst, now)
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
    ts = now
  end
  if now > ts then
    tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
    ts = now
  end
  local allowed = 0
  local retry = 0
  if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
  else
    retry = math.ceil((1 - tokens) * 1000 / rate)
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(ts))
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
  return allowed, math.floor(tokens), retry
end
local left = 0
if ARGV[1] == '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local ok, l, retry = take(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), now)
  if ok == 0 then return {0, 0, retry} end
  local ok_t, l_t, retry_t = take(KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5]), now)
  if ok_t == 0 then return {-1, 0, retry_t} end
  left = math.min(l, l_t)
end
if #KEYS >= 4 then
  return {1, left, 0, redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
end
return {1, left, 0}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    scope: str  # "client", "tenant", or "none" (limiter unavailable)
    remaining: int
    retry_after_s: float
    limit: int


class TokenBucket:
    """One Lua token bucket (cached by SHA; reloaded after a Redis restart flushes the script cache)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._sha: str | None = None

    async def take(
        self, key: str, rate: float, burst: float, cost: float = 1.0, now_ms: int | None = None
    ) -> tuple[bool, int, int]:
        args = [repr(rate), repr(burst), repr(cost), "" if now_ms is None else str(now_ms)]

        async def op(r: Client) -> list[int]:
            if self._sha is None:
                self._sha = str(await r.script_load(TOKEN_BUCKET_LUA))
            try:
                return list(await r.evalsha(self._sha, 1, key, *args))
            except NoScriptError:
                self._sha = str(await r.script_load(TOKEN_BUCKET_LUA))
                return list(await r.evalsha(self._sha, 1, key, *args))

        allowed, left, retry_ms = await self.store.run(op)
        return bool(allowed), int(left), int(retry_ms)


# What the gate read for the cache: (generation key, entry key, raw generation, raw entry).
Prefetched = tuple[str, str, bytes | None, bytes | None]
_OPEN = Decision(True, "none", 0, 0.0, 0)


class RateLimiter:
    def __init__(
        self,
        store: Store,
        *,
        client_rate: float,
        client_burst: float,
        tenant_rate: float,
        tenant_burst: float,
        enabled: bool = True,
    ) -> None:
        self.store = store
        self.bucket = TokenBucket(store)
        self.client_rate, self.client_burst = client_rate, client_burst
        self.tenant_rate, self.tenant_burst = tenant_rate, tenant_burst
        self.enabled = enabled
        self._args = [
            "1" if enabled else "0",
            repr(client_rate),
            repr(client_burst),
            repr(tenant_rate),
            repr(tenant_burst),
        ]
        self._sha: str | None = None

    async def check(self, tenant: str, client: str) -> Decision:
        if not self.enabled:
            return _OPEN
        decision, _ = await self.gate(tenant, client)
        return decision

    async def gate(
        self, tenant: str, client: str, cache_keys: tuple[str, str] | None = None
    ) -> tuple[Decision, Prefetched | None]:
        """Both buckets, and (``cache_keys`` = generation key, entry key) the cache read, in one round trip.

        The prefetched values are None when the request is refused or Redis is down (the limiter fails open).
        """
        tag = tenant_tag(tenant)
        keys = [f"{tag}:rl:c:{client}", f"{tag}:rl:tenant"]
        if cache_keys is not None:
            keys.extend(cache_keys)
        try:
            reply = await self._eval(keys)
        except RedisDown:
            if self.enabled:
                metrics.RATE_LIMITED.labels("fail_open").inc()
            return _OPEN, None
        verdict = int(reply[0])
        if verdict == 0:
            metrics.RATE_LIMITED.labels("client").inc()
            return Decision(False, "client", 0, _seconds(int(reply[2])), int(self.client_burst)), None
        if verdict < 0:
            metrics.RATE_LIMITED.labels("tenant").inc()
            return Decision(False, "tenant", 0, _seconds(int(reply[2])), int(self.tenant_burst)), None
        decision = Decision(True, "client", int(reply[1]), 0.0, int(self.client_burst)) if self.enabled else _OPEN
        if cache_keys is None:
            return decision, None
        return decision, (cache_keys[0], cache_keys[1], reply[3], reply[4])

    async def _eval(self, keys: list[str]) -> list[Any]:
        if self._sha is None:
            self._sha = await self._load()
        try:
            return list(await self.store.execute("EVALSHA", self._sha, len(keys), *keys, *self._args))
        except NoScriptError:  # Redis restarted (script cache flushed): load it again
            self._sha = await self._load()
            return list(await self.store.execute("EVALSHA", self._sha, len(keys), *keys, *self._args))

    async def _load(self) -> str:
        sha = await self.store.execute("SCRIPT", "LOAD", GATE_LUA)
        return sha.decode() if isinstance(sha, bytes) else str(sha)


def _seconds(ms: int) -> float:
    return max(1.0, math.ceil(ms / 1000))
