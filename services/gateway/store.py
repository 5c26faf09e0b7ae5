"""Redis access behind a circuit breaker, so a Redis outage costs one fast failure, not a timeout per request.

Callers choose the degradation: the cache is bypassed, the rate limiter fails open, the cart answers 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

from services.gateway.breaker import CircuitBreaker

T = TypeVar("T")


class RedisDown(RuntimeError):
    """Redis is unreachable or its breaker is open."""


# Idle connections kept by the fast lane (Store.execute); more concurrent callers get new ones, closed after use.
FAST_LANE_IDLE = 64


def pack(args: tuple[str | int | bytes, ...]) -> bytes:
    """A command in RESP2 framing (what redis-py's pack_command produces for these small commands, minus its
    generic checks and chunking, which cost ~4 % of a cached read)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class Store:
    def __init__(self, client: aioredis.Redis | None, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker
        self._lane: list[AbstractConnection] = []
        self._closed = False

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

    async def execute(self, *args: str | int | bytes) -> Any:
        """One command over the fast lane: the hot path's single Redis call per request (the rate limiter's gate).

        redis-py's client and pool do per-command work the gateway does not use here (retry wrapper, pool lock,
        observability hooks, a readiness probe of the socket): about a quarter of a cached read's CPU. The lane
        keeps its own connections, made by the client's pool factory (same address, AUTH, timeouts), and talks
        on them directly. A connection whose exchange did not complete (timeout, cancellation, I/O error) is
        closed, never reused; errors feed the breaker exactly as in ``run``.
        """
        if self.client is None or not self.breaker.allow():
            raise RedisDown("redis is not available")
        # The pool's factory (untyped in redis-py): the client's address, AUTH and timeouts, outside the pool.
        make: Callable[[], AbstractConnection] = self.client.connection_pool.make_connection
        conn = self._lane.pop() if self._lane else make()
        reusable = False
        try:
            await conn.send_packed_command(pack(args), check_health=False)
            reply = await conn.read_response()
            reusable = True
        except ResponseError:
            reusable = True  # the server answered: the connection is in a clean state
            self.breaker.release()
            raise
        except (RedisError, OSError) as exc:
            self.breaker.record_failure()
            raise RedisDown(f"redis error: {type(exc).__name__}") from None
        except BaseException:
            self.breaker.release()
            raise
        finally:
            if reusable and not self._closed and len(self._lane) < FAST_LANE_IDLE:
                self._lane.append(conn)
            else:
                await conn.disconnect()
        self.breaker.record_success()
        return reply

    async def ping(self) -> bool:
        try:
            return bool(await self.run(lambda r: r.ping()))
        except RedisDown:
            return False

    async def close(self) -> None:
        self._closed = True
        while self._lane:
            await self._lane.pop().disconnect()
        if self.client is not None:
            await self.client.aclose()
