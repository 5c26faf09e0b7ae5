"""The gateway against a REAL Redis cluster (``SHOP_REDIS_CLUSTER=true``, as on EKS with ElastiCache cluster mode).

Three shards with a replica each (redis_cluster.py); the gateway is given a replica's address, as a configuration
endpoint may resolve to one. The store's operations (limiter, cache, cart, checkout) run with their keys spread over
the shards; the untagged key names of before fail with CROSSSLOT, so the hash tags are what makes them work.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.crc import key_slot
from redis.exceptions import (
    ClusterCrossSlotError,
    ClusterDownError,
    CrossSlotTransactionError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.gateway import keys
from services.gateway.breaker import CircuitBreaker, State
from services.gateway.cache import CatalogCache, cache_keys, prefetch
from services.gateway.ratelimit import GATE_LUA, RateLimiter, TokenBucket
from services.gateway.routes.cart import CART_ADD_LUA, CART_TAKE_LUA, CHECKOUT_FINISH_LUA
from services.gateway.settings import GatewaySettings
from services.gateway.store import Client, RedisDown, Store, is_outage
from tests.services.gateway.redis_cluster import RedisCluster, running_cluster
from tests.services.gateway.stack import ADDRESS, PASSWORD, GatewayServer, Stack, register

T = TypeVar("T")
# A cross-slot operation is refused by redis-py's cluster client before sending ("all keys must map to the same key
# slot") or, when it sends it, by the server (CROSSSLOT "Keys in request don't hash to the same slot").
CROSS_SLOT = (RedisClusterException, ClusterCrossSlotError)
CROSS_SLOT_MESSAGE = r"same (key )?slot"


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def cluster_store(cluster: RedisCluster, **breaker: Any) -> Store:
    return Store.from_url(cluster.url, None, CircuitBreaker("redis", **breaker), cluster=True)


def slot_of(key: str) -> int:
    return int(key_slot(key.encode()))


def on_other_shards(cluster: RedisCluster, prefix: str, count: int) -> list[str]:
    """``count`` fresh tenant ids whose hash tags are served by ``count`` different primaries."""
    found: dict[int, str] = {}
    while len(found) < count:
        tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
        found.setdefault(cluster.owner(slot_of(keys.tenant_tag(tenant))), tenant)
    return list(found.values())


def old_cart_keys(tenant: str, user_id: str, idempotency_key: str) -> tuple[str, str]:
    """The cart and checkout-record names before the hash tags (``t:<tenant>:...``)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"t:{tenant}:cart:u:{user_id}", f"t:{tenant}:idem:{user_id}:{digest}"


def untagged_pair(tenant: str) -> tuple[str, str, str]:
    """A user and key whose old cart and record names fall in different slots (most do), and the user id."""
    while True:
        user_id = str(uuid.uuid4())
        cart, record = old_cart_keys(tenant, user_id, "key-" + user_id)
        if slot_of(cart) != slot_of(record):
            return cart, record, user_id


def _unreachable() -> RedisClusterException:
    try:
        raise RedisClusterException("Redis Cluster cannot be connected.") from RedisConnectionError("refused")
    except RedisClusterException as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (RedisConnectionError("refused"), True),
        (RedisTimeoutError("slow"), True),
        (OSError("unreachable"), True),
        (ClusterDownError("The cluster is down"), True),
        (TryAgainError("resharding"), True),
        (SlotNotCoveredError('Slot "7" is not covered by the cluster.'), True),
        (_unreachable(), True),
        (RedisClusterException("All slots are not covered after query all startup_nodes."), True),
        (NoScriptError("No matching script"), False),
        (MovedError("7 127.0.0.1:7001"), False),
        (ClusterCrossSlotError("Keys in request don't hash to the same slot"), False),
        (CrossSlotTransactionError("All keys involved in a cluster transaction must map to the same slot"), False),
        (RedisClusterException("EVAL - all keys must map to the same key slot"), False),
        (ValueError("bug"), False),
    ],
)
def test_outage_or_bug(error: BaseException, outage: bool) -> None:
    """What trips the breaker (callers degrade) and what is raised as a bug, for both clients' errors."""
    assert is_outage(error) is outage


# -- the store's operations on the cluster -------------------------------------------------------------------


def test_cluster_fixture_has_three_shards_and_the_url_is_a_replica(redis_cluster: RedisCluster) -> None:
    assert len(redis_cluster.primary_ports()) == 3
    port = int(redis_cluster.url.rsplit(":", 1)[1].split("/")[0])
    assert port in redis_cluster.replica_ports()


def test_plain_client_on_a_cluster_node_gets_moved(redis_cluster: RedisCluster) -> None:
    """Why the setting exists: the single-node client sends every command to the node it was given."""

    async def scenario() -> None:
        store = Store.from_url(redis_cluster.url, None, CircuitBreaker("redis"))  # a replica, plain client
        with pytest.raises(MovedError):
            await store.run(lambda r: r.set("{t:any}:probe", "1"))
        await store.close()

    run(scenario)


def test_untagged_keys_fail_cross_slot_and_the_tagged_ones_do_not(redis_cluster: RedisCluster) -> None:
    """The old names of checkout's atomic pair (record + cart) and of the gate's buckets span slots: the cluster
    refuses them (the client before sending, the server with CROSSSLOT). The tagged names share a slot and pass."""
    tenant = "shop-a"
    old_cart, old_record, user_id = untagged_pair(tenant)
    new_cart, new_record = keys.user_cart(tenant, user_id), keys.checkout_record(tenant, user_id, "key-" + user_id)
    assert slot_of(new_cart) == slot_of(new_record)
    old_buckets = [f"t:{tenant}:rl:c:10.0.0.1", f"t:{tenant}:rl:tenant"]
    assert slot_of(old_buckets[0]) != slot_of(old_buckets[1])

    def finish(r: Client, record: str, cart: str) -> Awaitable[Any]:  # routes/cart.py checkout's finish
        return r.eval(CHECKOUT_FINISH_LUA, 2, record, cart, '{"order_id": "o1"}', 60)

    async def scenario() -> None:
        store = cluster_store(redis_cluster, failure_threshold=1)
        # Old names: the cluster client refuses the script; a bug, not an outage (the breaker stays closed).
        with pytest.raises(CROSS_SLOT, match=CROSS_SLOT_MESSAGE):
            await store.run(lambda r: finish(r, old_record, old_cart))
        with pytest.raises(CROSS_SLOT, match=CROSS_SLOT_MESSAGE):
            await store.run(lambda r: r.eval(GATE_LUA, 2, *old_buckets, "1", "1", "1", "1", "1"))
        assert store.breaker.state is State.CLOSED
        # New names: one slot, one node.
        await store.run(lambda r: r.hset(new_cart, "p1", 1))
        await store.run(lambda r: finish(r, new_record, new_cart))
        assert await store.run(lambda r: r.exists(new_cart)) == 0
        stored = await store.run(lambda r: r.get(new_record))
        assert stored is not None
        assert json.loads(stored) == {"order_id": "o1"}
        await store.close()

    run(scenario)
    # The server says the same (CROSSSLOT, parsed by redis-py as ClusterCrossSlotError) to a client that sends the
    # old names anyway (to any node: the slots are compared before the node is).
    primary = redis.Redis(port=redis_cluster.primary_ports()[0])
    try:
        with pytest.raises(ClusterCrossSlotError, match="same slot"):
            primary.eval(CHECKOUT_FINISH_LUA, 2, old_record, old_cart, "{}", 60)
        with pytest.raises(ClusterCrossSlotError, match="same slot"):
            primary.eval(GATE_LUA, 2, *old_buckets, "1", "1", "1", "1", "1")
        with pytest.raises(ClusterCrossSlotError, match="same slot"):
            primary.delete(old_record, old_cart)
    finally:
        primary.close()


def test_limiter_and_cache_on_the_cluster(redis_cluster: RedisCluster) -> None:
    noisy, quiet = on_other_shards(redis_cluster, "rl", 2)

    async def fetch() -> bytes:
        return b'{"v": 1}'

    async def scenario() -> dict[str, Any]:
        store = cluster_store(redis_cluster)
        out: dict[str, Any] = {}
        # The fast lane (execute) loads the gate script on every primary and routes EVALSHA by its keys' slot.
        limiter = RateLimiter(store, client_rate=1000, client_burst=1000, tenant_rate=0.001, tenant_burst=5)
        out["noisy"] = sum([(await limiter.check(noisy, f"c{i}")).allowed for i in range(8)])
        out["quiet"] = sum([(await limiter.check(quiet, "c0")).allowed for _ in range(5)])
        bucket = TokenBucket(store)
        key = f"{keys.tenant_tag(quiet)}:rl:unit"
        out["bucket"] = [(await bucket.take(key, rate=1, burst=2, now_ms=1_000_000))[0] for _ in range(3)]
        # Cache: miss, hit, the gate's prefetched hit, invalidation (one INCR), miss again.
        cache = CatalogCache(store, ttl_s=30, stale_ttl_s=60)
        open_gate = RateLimiter(store, client_rate=1000, client_burst=1000, tenant_rate=1000, tenant_burst=1000)
        outcomes = [(await cache.get(quiet, "list", "k", fetch)).outcome]
        outcomes.append((await cache.get(quiet, "list", "k", fetch)).outcome)
        decision, ahead = await open_gate.gate(quiet, "c9", cache_keys(quiet, "list", "k"))
        assert decision.allowed
        assert ahead is not None
        assert ahead[3] is not None
        prefetch(ahead)
        outcomes.append((await cache.get(quiet, "list", "k", fetch)).outcome)
        await cache.invalidate_tenant(quiet)
        outcomes.append((await cache.get(quiet, "list", "k", fetch)).outcome)
        out["cache"], out["fetches"] = outcomes, cache.fetches
        out["breaker"] = store.breaker.state
        await store.close()
        return out

    assert run(scenario) == {
        "noisy": 5,
        "quiet": 5,
        "bucket": [True, True, False],
        "cache": ["MISS", "HIT", "HIT", "MISS"],
        "fetches": 2,
        "breaker": State.CLOSED,
    }


def test_gate_reloads_its_script_after_a_flush(redis_cluster: RedisCluster) -> None:
    """NOSCRIPT on a shard (a restarted or replaced node) is answered by loading the script again, everywhere."""
    (tenant,) = on_other_shards(redis_cluster, "ns", 1)

    async def scenario() -> list[bool]:
        store = cluster_store(redis_cluster)
        limiter = RateLimiter(store, client_rate=1000, client_burst=1000, tenant_rate=1000, tenant_burst=1000)
        first = (await limiter.check(tenant, "c")).allowed
        for port in redis_cluster.primary_ports():
            await aioredis.Redis(port=port).script_flush()
        second = (await limiter.check(tenant, "c")).allowed
        await store.close()
        return [first, second]

    assert run(scenario) == [True, True]


def test_cluster_down_trips_the_breaker_and_callers_degrade() -> None:
    """Same degradation as a single Redis: the limiter fails open, the cache bypasses, the store says RedisDown."""

    async def fetch() -> bytes:
        return b"{}"

    with running_cluster(primaries=3, replicas=0) as cluster:

        async def scenario() -> dict[str, Any]:
            store = cluster_store(cluster, failure_threshold=2, reset_timeout=60)
            limiter = RateLimiter(store, client_rate=1000, client_burst=1000, tenant_rate=1000, tenant_burst=1000)
            cache = CatalogCache(store, ttl_s=30, stale_ttl_s=60)
            out: dict[str, Any] = {"up": [(await limiter.check("shop-a", "c")).scope]}
            out["up"].append((await cache.get("shop-a", "list", "k", fetch)).outcome)
            cluster.stop()
            started = time.monotonic()
            out["down"] = [(await limiter.check("shop-a", "c")).scope]
            out["down"].append((await cache.get("shop-a", "list", "k", fetch)).outcome)
            with pytest.raises(RedisDown):
                await store.run(lambda r: r.get("{t:shop-a}:x"))
            out["breaker"] = store.breaker.state
            out["seconds"] = time.monotonic() - started
            await store.close()
            return out

        result = run(scenario)
    assert result["up"] == ["client", "MISS"]
    assert result["down"] == ["none", "BYPASS"]
    assert result["breaker"] is State.OPEN
    assert result["seconds"] < 20


def test_unreachable_cluster_is_redis_down() -> None:
    """Discovery failing (no startup node answers) is an outage, not an error for the caller."""

    async def fetch() -> bytes:
        return b"{}"

    async def scenario() -> tuple[str, str]:
        store = Store.from_url("redis://127.0.0.1:1/0", None, CircuitBreaker("redis"), cluster=True)
        limiter = RateLimiter(store, client_rate=1, client_burst=1, tenant_rate=1, tenant_burst=1)
        cache = CatalogCache(store, ttl_s=30, stale_ttl_s=60)
        scope = (await limiter.check("shop-a", "c")).scope
        outcome = (await cache.get("shop-a", "list", "k", fetch)).outcome
        await store.close()
        return scope, outcome

    assert run(scenario) == ("none", "BYPASS")


def test_setting_selects_the_cluster_client(redis_cluster: RedisCluster) -> None:
    env = {"SHOP_REDIS_URL": redis_cluster.url, "SHOP_REDIS_CLUSTER": "true", "SHOP_SECRETS_DIR": "/nonexistent"}
    settings = GatewaySettings.from_env(env)
    assert settings.redis_cluster is True
    assert GatewaySettings.from_env({**env, "SHOP_REDIS_CLUSTER": ""}).redis_cluster is False
    store = Store.from_url(settings.redis_url, None, CircuitBreaker("redis"), cluster=settings.redis_cluster)
    assert isinstance(store.client, AsyncRedisCluster)
    assert store.cluster
    run(store.close)


def test_guest_cart_merge_is_two_single_slot_scripts(redis_cluster: RedisCluster) -> None:
    """A guest cart and a user cart are in different slots: one script across them would be refused."""
    tenant = "shop-a"
    while True:
        session, user_id = uuid.uuid4().hex, str(uuid.uuid4())
        src, dst = keys.guest_cart(tenant, session), keys.user_cart(tenant, user_id)
        if redis_cluster.owner(slot_of(src)) != redis_cluster.owner(slot_of(dst)):
            break

    async def scenario() -> tuple[dict[Any, Any], int, list[Any]]:
        store = cluster_store(redis_cluster)
        await store.run(lambda r: r.hset(src, mapping={"p1": 2, "p2": 1}))
        await store.run(lambda r: r.hset(dst, "p1", 1))
        flat = await store.run(lambda r: r.eval(CART_TAKE_LUA, 1, src))
        await store.run(lambda r: r.eval(CART_ADD_LUA, 1, dst, 3600, *flat))
        merged = await store.run(lambda r: r.hgetall(dst))
        gone = await store.run(lambda r: r.exists(src))
        again = await store.run(lambda r: r.eval(CART_TAKE_LUA, 1, src))  # a second taker gets nothing
        await store.close()
        return merged, gone, again

    merged, gone, again = run(scenario)
    assert merged == {b"p1": b"3", b"p2": b"1"}
    assert gone == 0
    assert again == []


def test_gateway_uses_no_transaction_pipelines() -> None:
    """Atomic changes are Lua scripts: redis-py's asyncio cluster transactions block the event loop (store.py)."""
    from pathlib import Path

    import services.gateway

    root = Path(services.gateway.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "transaction=True" in path.read_text() or ".multi(" in path.read_text()
    ]
    assert offenders == []


# -- the gateway over HTTP on the cluster --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_gateway(stack: Stack, redis_cluster: RedisCluster) -> Iterator[GatewayServer]:
    server = GatewayServer(stack.gateway_settings(redis_url=redis_cluster.url, redis_cluster=True))
    yield server
    server.stop()


def raw(cluster: RedisCluster) -> redis.RedisCluster:
    return redis.RedisCluster.from_url(cluster.url)


def test_cart_merge_and_checkout_on_the_cluster(
    cluster_gateway: GatewayServer, stack: Stack, redis_cluster: RedisCluster
) -> None:
    first_pid, second_pid = stack.product_ids["shop-a"][:2]
    session = uuid.uuid4().hex
    with cluster_gateway.client("shop-a") as c, raw(redis_cluster) as r:
        guest = {"X-Session-Id": session}
        assert c.post("/v1/cart/items", json={"product_id": first_pid, "quantity": 1}, headers=guest).status_code == 200
        auth = register(c)
        h = {"Authorization": f"Bearer {auth['access_token']}"}
        user_id = auth["user"]["id"]
        assert c.get("/v1/cart", headers=h).json()["items"] == []  # registered without the session: nothing merged
        signed_in = c.post(
            "/v1/auth/sign-in",
            json={"email": auth["user"]["email"], "password": PASSWORD},
            headers=guest,
        )
        assert signed_in.status_code == 200, signed_in.text
        assert r.exists(keys.guest_cart("shop-a", session)) == 0  # taken
        r2 = c.post("/v1/cart/items", json={"product_id": second_pid, "quantity": 2}, headers=h)
        assert r2.status_code == 200, r2.text
        assert sorted((ln["product_id"], ln["quantity"]) for ln in r2.json()["items"]) == sorted(
            [(first_pid, 1), (second_pid, 2)]
        )
        idem = "cluster-" + uuid.uuid4().hex
        first = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, "Idempotency-Key": idem})
        assert first.status_code == 201, first.text
        order_id = first.json()["id"]
        # finish: the record written and the cart deleted, in one transaction on the user's slot.
        assert r.exists(keys.user_cart("shop-a", user_id)) == 0
        record = r.get(keys.checkout_record("shop-a", user_id, idem))
        assert record is not None
        assert json.loads(record) == {"order_id": order_id}
        # The emptied cart resubmitted with the same key: the record answers.
        again = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, "Idempotency-Key": idem})
        assert again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == order_id


def test_tenant_burst_on_one_shard_leaves_another_tenant_alone(stack: Stack, redis_cluster: RedisCluster) -> None:
    noisy, quiet = on_other_shards(redis_cluster, "rl", 2)
    server = GatewayServer(
        stack.gateway_settings(
            redis_url=redis_cluster.url,
            redis_cluster=True,
            trusted_proxy_hops=1,
            client_rate_per_s=1000,
            client_burst=1000,
            tenant_rate_per_s=0.01,
            tenant_burst=10,
        )
    )
    try:
        with server.client(noisy) as a, server.client(quiet) as b:
            a_codes = [
                a.get("/v1/products", params={"limit": 1}, headers={"X-Forwarded-For": f"10.1.0.{i}"}).status_code
                for i in range(15)
            ]
            assert a_codes.count(200) == 10
            assert a_codes.count(429) == 5
            assert a.get("/v1/products", headers={"X-Forwarded-For": "10.1.1.1"}).json()["scope"] == "tenant"
            b_codes = [
                b.get("/v1/products", params={"limit": 1}, headers={"X-Forwarded-For": "10.2.0.1"}).status_code
                for _ in range(10)
            ]
            assert b_codes == [200] * 10
    finally:
        server.stop()


def test_cache_hit_and_invalidation_on_the_cluster(cluster_gateway: GatewayServer, stack: Stack) -> None:
    cluster_gateway.watching("shop-b")
    pid = stack.product_ids["shop-b"][1]
    with cluster_gateway.client("shop-b") as c:
        c.get(f"/v1/products/{pid}")
        hit = c.get(f"/v1/products/{pid}")
        assert hit.headers["x-cache"] == "HIT"
        listed = c.get("/v1/products", params={"limit": 100})
        assert c.get("/v1/products", params={"limit": 100}).headers["x-cache"] == "HIT"
        new_name = f"Clustered {uuid.uuid4().hex[:6]}"
        stack.update_product("shop-b", pid, new_name)  # in catalog directly: only its change event invalidates
        deadline = time.monotonic() + 5
        while c.get(f"/v1/products/{pid}").json()["name"] != new_name:
            assert time.monotonic() < deadline, "the change event did not invalidate the cluster's cache"
            time.sleep(0.1)
        names = [p["name"] for p in c.get("/v1/products", params={"limit": 100}).json()["items"]]
        assert new_name in names
        assert listed.status_code == 200
    assert cluster_gateway.app.state.gateway.store.breaker.state is State.CLOSED
    with cluster_gateway.client(None) as c:
        ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["dependencies"]["redis"] is True  # PING through the cluster client
