"""Access tokens (ES256 JWT with ``kid``) and opaque refresh tokens.

Claims: ``sub`` (user id), ``tenant``, ``role``, ``iss`` = ISSUER, ``aud`` = AUDIENCE, ``iat``, ``exp``, ``jti``.
The gateway verifies them with the JWKS from GetJwks and the same ISSUER and AUDIENCE.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from services.common import errors
from services.users.keys import ALG, KeyRing

ISSUER = "eks-shop-users"
AUDIENCE = "eks-shop"
REFRESH_TOKEN_BYTES = 32


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    tenant: str
    role: str


class TokenService:
    def __init__(self, keys: KeyRing, access_ttl_seconds: int = 900) -> None:
        self.keys = keys
        self.access_ttl = timedelta(seconds=access_ttl_seconds)

    def issue_access(self, user_id: str, tenant: str, role: str) -> tuple[str, datetime]:
        now = datetime.now(UTC)
        expires = now + self.access_ttl
        key = self.keys.signing_key()
        claims = {
            "sub": user_id,
            "tenant": tenant,
            "role": role,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, key.private_key, algorithm=ALG, headers={"kid": key.kid})
        return token, expires

    def verify_access(self, token: str) -> AccessClaims:
        bad = errors.Unauthenticated("access token is invalid or expired")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise bad from None
        kid = header.get("kid")
        key = self.keys.verification_key(kid) if isinstance(kid, str) else None
        if key is None or header.get("alg") != ALG:
            raise bad
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.private_key.public_key(),
                algorithms=[ALG],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            raise bad from None
        return AccessClaims(str(claims["sub"]), str(claims.get("tenant", "")), str(claims.get("role", "")))


def new_refresh_token() -> tuple[str, bytes]:
    """An opaque token for the client and the SHA-256 we store (the token has 256 bits: no salt needed)."""
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
