"""Local verification of the users service's access tokens against its JWKS (no gRPC call per request).

The JWKS is cached for ``ttl`` and refetched when a token names an unknown ``kid`` (keys rotate), at most once
per ``min_refresh_interval`` so a flood of made-up ``kid`` values cannot turn into a flood of GetJwks calls.
Only ES256 is accepted: ``alg: none``, HS256 with the public key as secret and every other algorithm are refused
before any signature check. Audience, issuer, expiry and the tenant claim are checked too.

A token that passed those checks is remembered (a bounded LRU keyed by the exact token string), because the
ECDSA verify and PyJWT's claim checks cost ~0.25 ms of CPU on every authenticated request (~1 us once remembered)
and a client sends the same token for its whole lifetime. What is remembered is only what cannot change (the
signature was good, the fixed claims); every use still checks expiry, not-before and issued-at (same leeway) and
the storefront, and that the key the token was verified with is still the JWKS's key for its ``kid``, so a token
never outlives its key. A reload keeps the key object of every JWK that did not change, so only the tokens of a
key that left the JWKS (or changed under its kid) are verified again: a reload forced by junk tokens with made-up
kids does not flush what is remembered. Any other string, a tampered copy included, is a different key and goes
through the full verification.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "ES256"
ISSUER = "eks-shop-users"  # services/users/tokens.py ISSUER
AUDIENCE = "eks-shop"  # services/users/tokens.py AUDIENCE
LEEWAY_S = 5
VERIFIED_CACHE_SIZE = 10_000  # tokens; only verified ones are stored, ~1 KB each with their claims


class JwksUnavailable(RuntimeError):
    """No verification keys could be loaded (the users service is unreachable): a 503, not a 401."""


class TokenRejected(Exception):
    """The token is not acceptable; the message is safe to show (it never echoes the token)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant: str
    role: str


JwksFetcher = Callable[[], Awaitable[str]]


class JwksCache:
    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        ttl: float = 300.0,
        min_refresh_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._jwks: dict[str, str] = {}  # kid -> the JWK as loaded (canonical JSON): is a reloaded key the same?
        self._loaded_at: float | None = None
        self._last_attempt = -1e18
        self._lock = asyncio.Lock()
        self.fetch_count = 0
        self._failed = False

    async def _refresh(self, *, forced: bool) -> None:
        async with self._lock:
            now = self._clock()
            if now - self._last_attempt < self.min_refresh_interval and (forced or self._keys):
                return  # refreshed a moment ago (or by a concurrent caller)
            self._last_attempt = now
            self.fetch_count += 1
            try:
                document = await self._fetch()
            except Exception as exc:
                self._failed = True
                if not self._keys:
                    raise JwksUnavailable("verification keys unavailable") from exc
                return  # keep serving with the keys we have
            self._failed = False
            keys: dict[str, Any] = {}
            jwks: dict[str, str] = {}
            for jwk in json.loads(document).get("keys", []):
                if jwk.get("kty") != "EC" or jwk.get("alg", ALGORITHM) != ALGORITHM or not jwk.get("kid"):
                    continue
                kid = str(jwk["kid"])
                jwks[kid] = json.dumps(jwk, sort_keys=True)
                # An unchanged JWK keeps its key object: what was verified with it stays valid (TokenVerifier).
                same = self._jwks.get(kid) == jwks[kid]
                keys[kid] = self._keys[kid] if same else jwt.PyJWK.from_dict(jwk, algorithm=ALGORITHM).key
            self._keys, self._jwks = keys, jwks
            self._loaded_at = now

    async def key(self, kid: str) -> Any | None:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at > self.ttl:
            await self._refresh(forced=False)
        key = self._keys.get(kid)
        if key is None:
            # Unknown kid: the users service may have rotated to a key we have not seen yet.
            await self._refresh(forced=True)
            key = self._keys.get(kid)
        if key is None and not self._keys and self._failed:
            raise JwksUnavailable("verification keys unavailable")
        return key


@dataclass(frozen=True)
class _Verified:
    """What one successful verification established about a token (its signature and the fixed claims)."""

    kid: str
    key: Any  # the JWKS's key object it was verified with: remembered while the JWKS still holds that very object
    principal: Principal  # tenant is the token's own claim, compared with the storefront on every use
    exp: int
    nbf: int | None
    iat: int


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        cache_size: int = VERIFIED_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks = jwks
        self.cache_size = cache_size
        self._clock = clock  # wall clock, as PyJWT uses for exp/nbf/iat; injectable for tests of the cached path
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self.cache_hits = 0

    async def verify(self, token: str, tenant: str) -> Principal:
        if len(token) > 4096:
            raise TokenRejected("access token is invalid")
        entry = self._verified.get(token)
        if entry is not None:
            # Still ask for the key: it is a dict read, except when the JWKS is due for its periodic reload, which
            # must keep happening while every token is served from here (else a removed kid would go unnoticed).
            if await self.jwks.key(entry.kid) is entry.key:
                self._verified.move_to_end(token)
                self.cache_hits += 1
                return self._admit(token, entry, tenant)
            # Its key left the JWKS (or changed under its kid): forget it, and verify against what the JWKS holds.
            self._verified.pop(token, None)
        return await self._verify_fully(token, tenant)

    def _admit(self, token: str, entry: _Verified, tenant: str) -> Principal:
        """The time and storefront checks of a remembered token, with PyJWT's comparisons, leeway and messages."""
        now = self._clock()
        if entry.exp <= now - LEEWAY_S:
            self._verified.pop(token, None)  # it can never become valid again
            raise TokenRejected("access token has expired")
        if (entry.nbf is not None and entry.nbf > now + LEEWAY_S) or entry.iat > now + LEEWAY_S:
            raise TokenRejected("access token is invalid")  # the clock went back: as PyJWT would answer now
        if entry.principal.tenant != tenant:
            # A token of storefront B presented to storefront A.
            raise TokenRejected("access token belongs to another storefront")
        return entry.principal

    async def _verify_fully(self, token: str, tenant: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("access token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise TokenRejected("access token algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 200:
            raise TokenRejected("access token has no valid key id")
        key = await self.jwks.key(kid)
        if key is None:
            raise TokenRejected("access token is signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("access token has expired") from None
        except jwt.PyJWTError:
            raise TokenRejected("access token is invalid") from None
        claim_tenant = claims.get("tenant")
        if not isinstance(claim_tenant, str) or claim_tenant != tenant:
            # A token of storefront B presented to storefront A.
            raise TokenRejected("access token belongs to another storefront")
        role = claims.get("role")
        principal = Principal(str(claims["sub"]), claim_tenant, role if role in ("customer", "admin") else "customer")
        self._remember(token, kid, key, principal, claims)
        return principal

    def _remember(self, token: str, kid: str, key: Any, principal: Principal, claims: dict[str, Any]) -> None:
        nbf = claims.get("nbf")
        # PyJWT accepted these, so int() works (it compared them as int() too).
        self._verified[token] = _Verified(
            kid, key, principal, int(claims["exp"]), None if nbf is None else int(nbf), int(claims["iat"])
        )
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
