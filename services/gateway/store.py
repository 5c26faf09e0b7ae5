"""Redis access behind a circuit breaker, so a Redis outage costs one fast failure, not a timeout per request.

Callers choose the degradation: the cache is bypassed, the rate limiter fails open, the cart answers 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from services.gateway.breaker import CircuitBreaker

T = TypeVar("T")


class RedisDown(RuntimeError):
    """Redis is unreachable or its breaker is open."""


class Store:
    def __init__(self, client: aioredis.Redis | None, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker

    @classmethod
    def from_url(cls, url: str | None, password: str | None, breaker: CircuitBreaker) -> Store:
        if not url:
            return cls(None, breaker)
        client = aioredis.Redis.from_url(
            url,
            password=password or None,
            # Short timeouts: a slow Redis must not eat the request budget; the breaker then skips it.
            socket_connect_timeout=0.3,
            socket_timeout=0.3,
            health_check_interval=10,
            max_connections=200,
        )
        return cls(client, breaker)

    @property
    def configured(self) -> bool:
        return self.client is not None

    async def run(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        if self.client is None or not self.breaker.allow():
            raise RedisDown("redis is not available")
        try:
            result = await op(self.client)
        except ResponseError:
            # A script or command error is a bug or a NOSCRIPT, not an outage: do not trip the breaker.
            self.breaker.release()
            raise
        except (RedisError, OSError) as exc:
            self.breaker.record_failure()
            raise RedisDown(f"redis error: {type(exc).__name__}") from None
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    async def ping(self) -> bool:
        try:
            return bool(await self.run(lambda r: r.ping()))
        except RedisDown:
            return False

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
