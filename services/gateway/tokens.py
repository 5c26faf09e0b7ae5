"""Local verification of the users service's access tokens against its JWKS (no gRPC call per request).

The JWKS is cached for ``ttl`` and refetched when a token names an unknown ``kid`` (keys rotate), at most once
per ``min_refresh_interval`` so a flood of made-up ``kid`` values cannot turn into a flood of GetJwks calls.
Only ES256 is accepted: ``alg: none``, HS256 with the public key as secret and every other algorithm are refused
before any signature check. Audience, issuer, expiry and the tenant claim are checked too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "ES256"
ISSUER = "eks-shop-users"  # services/users/tokens.py ISSUER
AUDIENCE = "eks-shop"  # services/users/tokens.py AUDIENCE
LEEWAY_S = 5


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
            for jwk in json.loads(document).get("keys", []):
                if jwk.get("kty") != "EC" or jwk.get("alg", ALGORITHM) != ALGORITHM or not jwk.get("kid"):
                    continue
                keys[str(jwk["kid"])] = jwt.PyJWK.from_dict(jwk, algorithm=ALGORITHM).key
            self._keys = keys
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


class TokenVerifier:
    def __init__(self, jwks: JwksCache) -> None:
        self.jwks = jwks

    async def verify(self, token: str, tenant: str) -> Principal:
        if len(token) > 4096:
            raise TokenRejected("access token is invalid")
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
        return Principal(str(claims["sub"]), claim_tenant, role if role in ("customer", "admin") else "customer")
