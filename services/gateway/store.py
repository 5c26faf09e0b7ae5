"""Redis access behind a circuit breaker, so a Redis outage costs one fast failure, not a timeout per request.

Callers choose the degradation: the cache is bypassed, the rate limiter fails open, the cart answers 503.

Two clients, one code path: a plain ``redis.asyncio.Redis`` (local runs, tests, a single-node Redis) or, with
``SHOP_REDIS_CLUSTER=true`` (EKS: ElastiCache with cluster mode enabled, reached by its configuration endpoint),
``redis.asyncio.cluster.RedisCluster``, which discovers the shards, sends each command to the primary owning its
key's slot and follows MOVED/ASK redirections (resharding, failover). Both get TLS and the AUTH token from the
URL and the secret alike. Callers write the same code for both (``run`` hands them either client); what cluster
mode demands of them is in the key layout: every key of one atomic operation (a Lua script, a multi-key command)
shares a ``{...}`` hash tag, see keys.py. Atomic changes are Lua scripts, not MULTI/EXEC pipelines: redis-py's
asyncio cluster client (8.1) runs each command queued in a transaction pipeline in a new thread with its own event
loop (milliseconds of the gateway's loop blocked per transaction; a first command there even initializes the
client on that throwaway loop).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import (
    ClusterDownError,
    CrossSlotTransactionError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

from services.gateway.breaker import CircuitBreaker

T = TypeVar("T")
# What ``Store.run`` hands its callers: the plain client or, in cluster mode, the cluster client (same commands).
Client: TypeAlias = aioredis.Redis | RedisCluster


class RedisDown(RuntimeError):
    """Redis is unreachable or its breaker is open."""


# Commands named by two words, which the cluster client routes by both (SCRIPT LOAD goes to every primary).
CONTAINER_COMMANDS = frozenset({"SCRIPT", "FUNCTION"})
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


def is_outage(exc: BaseException) -> bool:
    """Whether a Redis client error means "Redis is not (fully) there" (feeds the breaker; callers degrade) rather
    than "this command is wrong" (a bug or a NOSCRIPT: raised as is, the breaker untouched).

    Cluster mode adds errors of both kinds: CLUSTERDOWN and TRYAGAIN replies (a failover or resharding in
    progress), a slot no node covers, and a cluster none of whose nodes answers (redis-py's
    ``RedisClusterException`` raised from the connection error) are outages; a cross-slot operation (refused by the
    client before sending: ``CrossSlotTransactionError``, "all keys must map to the same key slot"; or by the
    server: CROSSSLOT, ``ClusterCrossSlotError``) is a bug in the key layout.
    """
    if isinstance(exc, ClusterDownError | TryAgainError | SlotNotCoveredError):
        return True
    if isinstance(exc, CrossSlotTransactionError):
        return False
    if isinstance(exc, RedisClusterException):
        # Discovery failed because no startup node answered (the cause is the connection error), or the nodes
        # that answered do not cover all slots: both are the cluster being down, not the caller's mistake.
        return isinstance(exc.__cause__, RedisError | OSError) or "not covered" in str(exc)
    if isinstance(exc, ResponseError):
        return False
    return isinstance(exc, RedisError | OSError)


class Store:
    def __init__(self, client: Client | None, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker
        self._lane: list[AbstractConnection] = []
        self._closed = False

    @classmethod
    def from_url(
        cls, url: str | None, password: str | None, breaker: CircuitBreaker, *, cluster: bool = False
    ) -> Store:
        """``cluster``: the URL is a cluster's (configuration) endpoint; talk to its shards with the cluster client.

        TLS (``rediss://``), the user and the database (0; a cluster has only 0) come from the URL in both modes.
        """
        if not url:
            return cls(None, breaker)
        # Short timeouts: a slow Redis must not eat the request budget; the breaker then skips it.
        options: dict[str, Any] = {
            "password": password or None,
            "socket_connect_timeout": 0.3,
            "socket_timeout": 0.3,
            "health_check_interval": 10,
        }
        client: Client
        if cluster:
            # max_connections is per node here; a single-shard cluster gets what the plain client gets.
            client = RedisCluster.from_url(url, max_connections=200, **options)
        else:
            client = aioredis.Redis.from_url(url, max_connections=200, **options)
        return cls(client, breaker)

    @property
    def cluster(self) -> bool:
        return isinstance(self.client, RedisCluster)

    @property
    def configured(self) -> bool:
        return self.client is not None

    async def run(self, op: Callable[[Client], Awaitable[T]]) -> T:
        if self.client is None or not self.breaker.allow():
            raise RedisDown("redis is not available")
        try:
            result = await op(self.client)
        except BaseException as exc:
            if is_outage(exc):
                self.breaker.record_failure()
                raise RedisDown(f"redis error: {type(exc).__name__}") from None
            # A script or command error is a bug or a NOSCRIPT, not an outage: do not trip the breaker.
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

        In cluster mode the command goes through the cluster client instead (``run``): it picks the node owning
        the keys' slot (EVALSHA: its KEYS; SCRIPT LOAD: every primary) and follows redirections, which a lane of
        raw connections to one address cannot do. The gate then costs redis-py's per-command overhead again.
        """
        if isinstance(self.client, RedisCluster):
            cluster = self.client
            words = [a.decode() if isinstance(a, bytes) else str(a) for a in args[:2]]
            if len(words) > 1 and words[0].upper() in CONTAINER_COMMANDS:
                # The cluster client routes by the command's full name ("SCRIPT LOAD": every primary).
                args = (" ".join(words).upper(), *args[2:])
            return await self.run(lambda _: cluster.execute_command(*args))
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
        except BaseException as exc:
            reusable = isinstance(exc, ResponseError)  # the server answered: the connection is in a clean state
            if is_outage(exc):
                self.breaker.record_failure()
                raise RedisDown(f"redis error: {type(exc).__name__}") from None
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
