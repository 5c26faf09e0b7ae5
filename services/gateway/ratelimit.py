"""Token-bucket rate limiting in Redis, per client AND per tenant, atomically in a Lua script.

Why two buckets: the per-client bucket stops one noisy client; the per-tenant bucket caps a whole storefront so a
burst on tenant A spends only A's tokens and tenant B keeps its own full bucket (keys ``t:<tenant>:rl:...``).
Each bucket is one key and one script call, so the scheme also works with Redis cluster mode (no cross-slot
scripts). The client bucket is checked first: a client already over its limit does not drain its tenant's.
When Redis is down the limiter fails open (availability over strictness) and counts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.exceptions import NoScriptError

from services.gateway import metrics
from services.gateway.store import RedisDown, Store

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

        async def op(r: object) -> list[int]:
            from redis.asyncio import Redis

            assert isinstance(r, Redis)
            if self._sha is None:
                self._sha = str(await r.script_load(TOKEN_BUCKET_LUA))
            try:
                return list(await r.evalsha(self._sha, 1, key, *args))
            except NoScriptError:
                self._sha = str(await r.script_load(TOKEN_BUCKET_LUA))
                return list(await r.evalsha(self._sha, 1, key, *args))

        allowed, left, retry_ms = await self.store.run(op)
        return bool(allowed), int(left), int(retry_ms)


class RateLimiter:
    def __init__(self, store: Store, *, client_rate: float, client_burst: float, tenant_rate: float,
                 tenant_burst: float, enabled: bool = True) -> None:
        self.bucket = TokenBucket(store)
        self.client_rate, self.client_burst = client_rate, client_burst
        self.tenant_rate, self.tenant_burst = tenant_rate, tenant_burst
        self.enabled = enabled

    async def check(self, tenant: str, client: str) -> Decision:
        if not self.enabled:
            return Decision(True, "none", 0, 0.0, 0)
        try:
            ok, left, retry = await self.bucket.take(f"t:{tenant}:rl:c:{client}", self.client_rate, self.client_burst)
            if not ok:
                metrics.RATE_LIMITED.labels("client").inc()
                return Decision(False, "client", 0, _seconds(retry), int(self.client_burst))
            ok_t, left_t, retry_t = await self.bucket.take(f"t:{tenant}:rl:tenant", self.tenant_rate, self.tenant_burst)
        except RedisDown:
            metrics.RATE_LIMITED.labels("fail_open").inc()
            return Decision(True, "none", 0, 0.0, 0)
        if not ok_t:
            metrics.RATE_LIMITED.labels("tenant").inc()
            return Decision(False, "tenant", 0, _seconds(retry_t), int(self.tenant_burst))
        return Decision(True, "client", min(left, left_t), 0.0, int(self.client_burst))


def _seconds(ms: int) -> float:
    return max(1.0, math.ceil(ms / 1000))
