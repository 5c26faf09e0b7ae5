"""Unit tests: circuit breaker, token-bucket Lua (real Redis), cache single-flight, JWKS refresh, token checks and
the verified-token cache."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.common.errors import ErrorReason, Reason
from services.gateway.backends import Backend, DependencyFailure
from services.gateway.breaker import CircuitBreaker, CircuitOpenError, State
from services.gateway.cache import CatalogCache, cache_keys, prefetch
from services.gateway.ratelimit import RateLimiter, TokenBucket
from services.gateway.store import Store, pack
from services.gateway.tokens import AUDIENCE, ISSUER, LEEWAY_S, JwksCache, TokenRejected, TokenVerifier
from tests.services.redis_server import RedisServer

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- circuit breaker -----------------------------------------------------------------------------------------


def test_breaker_opens_after_threshold_and_half_opens_after_timeout() -> None:
    clock = Clock()
    b = CircuitBreaker("dep", failure_threshold=3, reset_timeout=5, clock=clock)
    for _ in range(2):
        b.check()
        b.record_failure()
    assert b.state is State.CLOSED
    b.record_success()  # a success resets the count
    for _ in range(3):
        b.check()
        b.record_failure()
    assert b.state is State.OPEN
    with pytest.raises(CircuitOpenError):
        b.check()
    clock.now += 5
    assert b.state is State.HALF_OPEN
    assert b.allow() is True
    assert b.allow() is False  # one trial at a time
    b.record_failure()
    assert b.state is State.OPEN
    clock.now += 5
    assert b.allow() is True
    b.record_success()
    assert b.state is State.CLOSED
    assert b.allow()


def test_breaker_release_does_not_count_as_failure() -> None:
    b = CircuitBreaker("dep", failure_threshold=1, reset_timeout=1, clock=Clock())
    b.check()
    b.release()  # e.g. NOT_FOUND: the dependency answered
    assert b.state is State.CLOSED


# -- token bucket (real Redis) -------------------------------------------------------------------------------


def _store(redis_server: RedisServer) -> Store:
    return Store.from_url(redis_server.url, None, CircuitBreaker("redis"))


def test_token_bucket_lua_refills_at_rate(redis_server: RedisServer) -> None:
    async def scenario() -> list[tuple[bool, int, int]]:
        store = _store(redis_server)
        bucket = TokenBucket(store)
        key = f"t:unit:rl:{uuid.uuid4().hex}"
        out = [await bucket.take(key, rate=2, burst=3, now_ms=1_000_000) for _ in range(4)]
        out.append(await bucket.take(key, rate=2, burst=3, now_ms=1_000_500))  # +1 token after 500 ms at 2/s
        out.append(await bucket.take(key, rate=2, burst=3, now_ms=1_000_500))
        out.append(await bucket.take(key, rate=2, burst=3, now_ms=1_010_000))  # refilled to burst, not beyond
        await store.close()
        return out

    results = run(scenario)
    assert [r[0] for r in results] == [True, True, True, False, True, False, True]
    assert results[3][2] == 500  # retry after 500 ms
    assert results[6][1] == 2  # burst 3 minus 1


def test_limiter_isolates_tenants(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[int, int]:
        store = _store(redis_server)
        limiter = RateLimiter(store, client_rate=1000, client_burst=1000, tenant_rate=0.001, tenant_burst=5)
        noisy = f"noisy-{uuid.uuid4().hex[:6]}"
        quiet = f"quiet-{uuid.uuid4().hex[:6]}"
        noisy_ok = sum([(await limiter.check(noisy, f"c{i}")).allowed for i in range(20)])
        quiet_ok = sum([(await limiter.check(quiet, "c0")).allowed for _ in range(5)])
        await store.close()
        return noisy_ok, quiet_ok

    assert run(scenario) == (5, 5)


def test_limiter_fails_open_without_redis() -> None:
    async def scenario() -> bool:
        store = Store.from_url("redis://127.0.0.1:1/0", None, CircuitBreaker("redis"))
        limiter = RateLimiter(store, client_rate=1, client_burst=1, tenant_rate=1, tenant_burst=1)
        decisions = [await limiter.check("shop-a", "c") for _ in range(3)]
        await store.close()
        return all(d.allowed for d in decisions)

    assert run(scenario)


def test_fast_lane_framing_is_redis_pys() -> None:
    from redis.asyncio.connection import Connection

    args: tuple[str | int | bytes, ...] = ("EVALSHA", "ab" * 20, 2, "{t:x}:rl:c:1.2.3.4", "{t:x}:rl:tenant", "1", "2.5")
    assert pack(args) == b"".join(Connection().pack_command(*args))
    assert pack(("SCRIPT", "LOAD", "return 'é'")) == b"".join(Connection().pack_command("SCRIPT", "LOAD", "return 'é'"))


def test_gate_takes_both_buckets_and_reads_the_cache_in_one_call(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[bool, str, bytes, bool, bool]:
        store = _store(redis_server)
        limiter = RateLimiter(store, client_rate=0.001, client_burst=1, tenant_rate=1000, tenant_burst=1000)
        cache = CatalogCache(store, ttl_s=30, stale_ttl_s=60)
        tenant = f"sf-{uuid.uuid4().hex[:6]}"

        async def fetch() -> bytes:
            return b'{"v": 1}'

        await cache.get(tenant, "list", "k", fetch)  # a miss fills the entry
        decision, ahead = await limiter.gate(tenant, "c1", cache_keys(tenant, "list", "k"))
        refused, nothing = await limiter.gate(tenant, "c1", cache_keys(tenant, "list", "k"))
        await store.close()
        store.client = None  # from here any Redis access is RedisDown (a BYPASS): the hit must come from the gate
        prefetch(ahead)
        hit = await cache.get(tenant, "list", "k", fetch)
        return decision.allowed, hit.outcome, hit.body, refused.allowed, nothing is None

    assert run(scenario) == (True, "HIT", b'{"v": 1}', False, True)


# -- cache single flight -------------------------------------------------------------------------------------


def test_cache_single_flight_one_fetch_for_concurrent_misses(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[int, list[str], list[str]]:
        store = _store(redis_server)
        # Two caches = two gateway replicas sharing Redis: the Redis lock coordinates them.
        caches = [CatalogCache(store, ttl_s=30, stale_ttl_s=60) for _ in range(2)]
        calls = 0

        async def fetch() -> bytes:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.2)
            return b'{"v": 1}'

        tenant = f"sf-{uuid.uuid4().hex[:6]}"
        results = await asyncio.gather(*(caches[i % 2].get(tenant, "list", "k", fetch) for i in range(20)))
        again = await caches[0].get(tenant, "list", "k", fetch)
        await store.close()
        return calls, sorted({r.outcome for r in results}), [again.outcome]

    calls, outcomes, again = run(scenario)
    assert calls == 1
    assert set(outcomes) <= {"MISS", "HIT"}
    assert again == ["HIT"]


def test_cache_invalidation_and_stale_fallback(redis_server: RedisServer) -> None:
    async def scenario() -> list[str]:
        store = _store(redis_server)
        cache = CatalogCache(store, ttl_s=30, stale_ttl_s=60)
        tenant = f"sf-{uuid.uuid4().hex[:6]}"
        version = 1

        async def fetch() -> bytes:
            return json.dumps({"v": version}).encode()

        async def down() -> bytes:
            raise DependencyFailure(503, "unavailable", "down", "catalog down")

        outcomes = [(await cache.get(tenant, "p", "x", fetch)).outcome]
        outcomes.append((await cache.get(tenant, "p", "x", fetch)).outcome)
        await cache.invalidate_tenant(tenant)
        version = 2
        fresh = await cache.get(tenant, "p", "x", fetch)
        outcomes.append(fresh.outcome + ":" + fresh.body.decode())
        await cache.invalidate_tenant(tenant)
        stale = await cache.get(tenant, "p", "x", down)
        outcomes.append(stale.outcome + ":" + stale.body.decode())
        with pytest.raises(DependencyFailure):
            await cache.get(tenant, "p", "never-cached", down)
        await store.close()
        return outcomes

    assert run(scenario) == ["MISS", "HIT", 'MISS:{"v": 2}', 'STALE:{"v": 2}']


def test_cache_bypasses_dead_redis() -> None:
    async def scenario() -> str:
        store = Store.from_url("redis://127.0.0.1:1/0", None, CircuitBreaker("redis"))
        cache = CatalogCache(store, ttl_s=30, stale_ttl_s=60)

        async def fetch() -> bytes:
            return b"{}"

        result = await cache.get("shop-a", "list", "k", fetch)
        await store.close()
        return result.outcome

    assert run(scenario) == "BYPASS"


# -- JWKS cache and token checks -----------------------------------------------------------------------------


class KeySet:
    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0

    def add(self) -> str:
        kid = uuid.uuid4().hex[:12]
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid

    async def fetch(self) -> str:
        self.fetches += 1
        jwks = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            jwks.append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})
        return json.dumps({"keys": jwks})

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "sub": "u1",
            "tenant": "shop-a",
            "role": "customer",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm="ES256", headers={"kid": kid})


def test_jwks_refreshes_on_unknown_kid_but_not_in_a_loop() -> None:
    keys = KeySet()
    first = keys.add()
    clock = Clock()
    cache = JwksCache(keys.fetch, ttl=300, min_refresh_interval=5, clock=clock)
    verifier = TokenVerifier(cache)

    async def scenario() -> None:
        assert (await verifier.verify(keys.token(first), "shop-a")).user_id == "u1"
        assert keys.fetches == 1
        await verifier.verify(keys.token(first), "shop-a")
        assert keys.fetches == 1  # cached
        clock.now += 6
        rotated = keys.add()  # the users service rotated its key
        assert (await verifier.verify(keys.token(rotated), "shop-a")).tenant == "shop-a"
        assert keys.fetches == 2
        for _ in range(5):  # made-up kids do not cause a fetch each
            with pytest.raises(TokenRejected):
                await verifier.verify(
                    jwt.encode({"sub": "x"}, keys.keys[first], algorithm="ES256", headers={"kid": "nope"}), "shop-a"
                )
        assert keys.fetches == 2

    run(scenario)


@pytest.mark.parametrize(
    "case",
    ["expired", "forged", "alg_none", "hs256", "wrong_aud", "wrong_iss", "other_tenant", "garbage"],
)
def test_token_checks(case: str) -> None:
    keys = KeySet()
    kid = keys.add()
    verifier = TokenVerifier(JwksCache(keys.fetch, clock=Clock()))
    now = int(time.time())
    if case == "expired":
        token = keys.token(kid, iat=now - 1000, exp=now - 100)
    elif case == "forged":
        other = ec.generate_private_key(ec.SECP256R1())
        token = jwt.encode(
            {"sub": "u1", "tenant": "shop-a", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60},
            other,
            algorithm="ES256",
            headers={"kid": kid},
        )
    elif case == "alg_none":
        token = jwt.encode(
            {"sub": "u1", "tenant": "shop-a", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60},
            None,
            algorithm="none",
            headers={"kid": kid},
        )
    elif case == "hs256":
        token = jwt.encode(
            {"sub": "u1", "tenant": "shop-a", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60},
            "x" * 32,
            algorithm="HS256",
            headers={"kid": kid},
        )
    elif case == "wrong_aud":
        token = keys.token(kid, aud="someone-else")
    elif case == "wrong_iss":
        token = keys.token(kid, iss="evil")
    elif case == "other_tenant":
        token = keys.token(kid, tenant="shop-b")
    else:
        token = "not.a.jwt"
    with pytest.raises(TokenRejected):
        run(lambda: verifier.verify(token, "shop-a"))


class DecodeSpy:
    """Counts full verifications (PyJWT's decode: the ECDSA verify and claim checks) while delegating to it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._decode = jwt.decode
        monkeypatch.setattr(jwt, "decode", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._decode(*args, **kwargs)


def test_verified_token_is_remembered_but_refused_once_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeySet()
    kid = keys.add()
    ahead = [0.0]
    verifier = TokenVerifier(JwksCache(keys.fetch, clock=Clock()), clock=lambda: time.time() + ahead[0])
    spy = DecodeSpy(monkeypatch)
    token = keys.token(kid, exp=int(time.time()) + 60)

    async def scenario() -> None:
        assert (await verifier.verify(token, "shop-a")).user_id == "u1"
        assert (await verifier.verify(token, "shop-a")).user_id == "u1"
        assert (spy.calls, verifier.cache_hits) == (1, 1)  # the second use was not verified again
        ahead[0] = 60 + LEEWAY_S - 2  # past exp but within the leeway PyJWT allows: still accepted
        await verifier.verify(token, "shop-a")
        ahead[0] = 60 + LEEWAY_S + 2
        with pytest.raises(TokenRejected, match="expired"):
            await verifier.verify(token, "shop-a")
        # Refused by the remembered entry's own expiry check: PyJWT, on the real clock, would still accept it.
        assert (spy.calls, verifier.cache_hits) == (1, 3)
        # The expired entry was forgotten: with the clock back the next use is a full verification again.
        ahead[0] = 0
        assert (await verifier.verify(token, "shop-a")).user_id == "u1"
        assert (spy.calls, verifier.cache_hits) == (2, 3)
        # The storefront is still checked on every use of a remembered token.
        with pytest.raises(TokenRejected, match="another storefront"):
            await verifier.verify(token, "shop-b")
        assert verifier.cache_hits == 4

    run(scenario)


def test_remembered_token_is_refused_once_its_key_leaves_the_jwks() -> None:
    keys = KeySet()
    old, kept = keys.add(), keys.add()
    clock = Clock()
    verifier = TokenVerifier(JwksCache(keys.fetch, ttl=300, min_refresh_interval=5, clock=clock))
    by_old, by_kept = keys.token(old), keys.token(kept)

    async def scenario() -> None:
        await verifier.verify(by_old, "shop-a")
        await verifier.verify(by_kept, "shop-a")
        assert (await verifier.verify(by_old, "shop-a")).user_id == "u1"
        assert verifier.cache_hits == 1
        # The periodic reload still happens while the token is served from memory, and drops the removed key.
        del keys.keys[old]
        clock.now += 301
        with pytest.raises(TokenRejected, match="unknown key"):
            await verifier.verify(by_old, "shop-a")
        assert keys.fetches == 2
        assert (await verifier.verify(by_kept, "shop-a")).user_id == "u1"  # its key is still there

    run(scenario)


def test_remembered_token_is_refused_after_a_rotation_removes_its_key() -> None:
    keys = KeySet()
    old = keys.add()
    clock = Clock()
    verifier = TokenVerifier(JwksCache(keys.fetch, ttl=300, min_refresh_interval=5, clock=clock))
    by_old = keys.token(old)

    async def scenario() -> None:
        await verifier.verify(by_old, "shop-a")
        await verifier.verify(by_old, "shop-a")
        assert verifier.cache_hits == 1
        # A token of a new key forces a reload (an unknown kid) well before the TTL: the old key is gone from it.
        del keys.keys[old]
        new = keys.add()
        clock.now += 6
        assert (await verifier.verify(keys.token(new), "shop-a")).user_id == "u1"
        with pytest.raises(TokenRejected, match="unknown key"):
            await verifier.verify(by_old, "shop-a")
        assert verifier.cache_hits == 1

    run(scenario)


def test_junk_tokens_with_unknown_kids_do_not_flush_remembered_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each made-up kid forces a JWKS reload (rate-limited); a reload that removes nothing forgets nothing."""
    keys = KeySet()
    kid = keys.add()
    clock = Clock()
    verifier = TokenVerifier(JwksCache(keys.fetch, ttl=300, min_refresh_interval=5, clock=clock))
    spy = DecodeSpy(monkeypatch)
    token = keys.token(kid)

    async def scenario() -> None:
        await verifier.verify(token, "shop-a")
        assert (spy.calls, keys.fetches) == (1, 1)
        for n in range(3):
            clock.now += 6  # past the refresh interval: every junk token below really reloads the JWKS
            junk = jwt.encode({"sub": "x"}, keys.keys[kid], algorithm="ES256", headers={"kid": f"made-up-{n}"})
            with pytest.raises(TokenRejected, match="unknown key"):
                await verifier.verify(junk, "shop-a")
            assert keys.fetches == 2 + n
            assert (await verifier.verify(token, "shop-a")).user_id == "u1"
        assert (spy.calls, verifier.cache_hits) == (1, 3)  # never verified again: still remembered

    run(scenario)


def test_a_reload_forgets_only_the_tokens_of_keys_that_left_or_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeySet()
    gone, changed, kept = keys.add(), keys.add(), keys.add()
    clock = Clock()
    verifier = TokenVerifier(JwksCache(keys.fetch, ttl=300, min_refresh_interval=5, clock=clock))
    spy = DecodeSpy(monkeypatch)
    by_gone, by_changed, by_kept = keys.token(gone), keys.token(changed), keys.token(kept)

    async def scenario() -> None:
        for token in (by_gone, by_changed, by_kept):
            await verifier.verify(token, "shop-a")
        assert spy.calls == 3
        del keys.keys[gone]
        keys.keys[changed] = ec.generate_private_key(ec.SECP256R1())  # another key under the same kid
        clock.now += 301  # the periodic reload
        assert (await verifier.verify(by_kept, "shop-a")).user_id == "u1"
        assert (spy.calls, keys.fetches) == (3, 2)  # reloaded, and the kept key's token is still remembered
        with pytest.raises(TokenRejected, match="unknown key"):
            await verifier.verify(by_gone, "shop-a")
        with pytest.raises(TokenRejected, match="invalid"):
            await verifier.verify(by_changed, "shop-a")  # verified again, against the new key: its signature fails
        assert spy.calls == 4  # by_gone never reached PyJWT (no key), by_changed did
        assert (await verifier.verify(keys.token(changed), "shop-a")).user_id == "u1"

    run(scenario)


def test_tampered_copy_of_a_remembered_token_is_verified_and_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeySet()
    kid = keys.add()
    verifier = TokenVerifier(JwksCache(keys.fetch, clock=Clock()))
    spy = DecodeSpy(monkeypatch)
    token = keys.token(kid)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_claims = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "u2", "role": "admin"}).encode())
    tampered = [
        f"{header}.{forged_claims.decode().rstrip('=')}.{signature}",  # other claims under the genuine signature
        f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",  # another signature
    ]

    async def scenario() -> None:
        await verifier.verify(token, "shop-a")
        await verifier.verify(token, "shop-a")
        assert (spy.calls, verifier.cache_hits) == (1, 1)
        for forged in tampered:
            with pytest.raises(TokenRejected, match="invalid"):
                await verifier.verify(forged, "shop-a")
        assert (spy.calls, verifier.cache_hits) == (3, 1)  # each was verified in full, none answered from memory
        assert (await verifier.verify(token, "shop-a")).role == "customer"

    run(scenario)


def test_remembered_tokens_are_bounded_least_recently_used_first(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeySet()
    kid = keys.add()
    verifier = TokenVerifier(JwksCache(keys.fetch, clock=Clock()), cache_size=2)
    spy = DecodeSpy(monkeypatch)
    a, b, c = (keys.token(kid, sub=s) for s in ("a", "b", "c"))

    async def scenario() -> None:
        for token in (a, b, a, c):  # c evicts b, the least recently used
            await verifier.verify(token, "shop-a")
        assert spy.calls == 3
        await verifier.verify(a, "shop-a")
        assert spy.calls == 3
        await verifier.verify(b, "shop-a")
        assert spy.calls == 4

    run(scenario)


def test_a_dependency_reporting_the_outage_behind_it_is_not_failing_itself() -> None:
    """Decided by the refusal's reason (DEPENDENCY_UNAVAILABLE naming a service behind it), not by its message."""
    down = Reason.DEPENDENCY_UNAVAILABLE

    async def verdicts() -> list[str | None]:
        orders = Backend("orders", "127.0.0.1:1", CircuitBreaker("orders"), read_timeout=1, write_timeout=1)
        relaying = Backend(
            "orders", "127.0.0.1:1", CircuitBreaker("orders"), read_timeout=1, write_timeout=1, downstream=["catalog"]
        )
        try:
            return [
                relaying.downstream_outage(ErrorReason(down, {"dependency": "catalog"})),
                relaying.downstream_outage(ErrorReason(down, {"dependency": "orders-store"})),  # its own part
                relaying.downstream_outage(ErrorReason(down, {})),
                relaying.downstream_outage(ErrorReason(Reason.OUT_OF_STOCK, {"dependency": "catalog"})),
                relaying.downstream_outage(None),  # no reason, whatever the message says
                orders.downstream_outage(ErrorReason(down, {"dependency": "catalog"})),
            ]
        finally:
            await orders.close()
            await relaying.close()

    assert run(verdicts) == ["catalog", None, None, None, None, None]
