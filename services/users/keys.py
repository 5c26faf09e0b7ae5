"""The ES256 signing key set: rotation with an overlap window, stored encrypted in PostgreSQL, served as JWKS.

* One *active* key signs. When it is older than ``rotation_seconds`` a new key is created and the old one
  *retires*: it signs nothing more but stays in the JWKS for ``overlap_seconds`` (longer than the access-token
  lifetime), so tokens it signed keep verifying until they expire anyway.
* Replicas share the set through the database; an advisory lock makes exactly one of them rotate.
* Private keys are encrypted with AES-256-GCM under a key derived from the ``jwt-keys`` secret (Secrets Manager
  ``eks-shop/<env>/users/jwt-keys``). They are never logged; the key object's repr shows only the kid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common import errors
from services.common.pg import Database
from services.common.settings import Secret

log = logging.getLogger(__name__)
ALG = "ES256"
_LOCK_KEY = 0x5E0B_0001


def _b64u(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


@dataclass(frozen=True, repr=False)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    created_at: datetime
    retires_at: datetime | None
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    def active(self, now: datetime) -> bool:
        return self.retires_at is None or self.retires_at > now

    def published(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64u(numbers.x),
            "y": _b64u(numbers.y),
            "kid": self.kid,
            "alg": ALG,
            "use": "sig",
        }


class KeyRing:
    def __init__(self, db: Database, kek: Secret, *, rotation_seconds: float, overlap_seconds: float) -> None:
        self.db = db
        self._aead = AESGCM(hashlib.sha256(b"eks-shop/jwt-keys/v1\x00" + kek.reveal().encode()).digest())
        self.rotation = timedelta(seconds=rotation_seconds)
        self.overlap = timedelta(seconds=overlap_seconds)
        self._keys: list[SigningKey] = []
        self._lock = threading.Lock()
        self._loaded_at: datetime | None = None

    # -- encryption ----------------------------------------------------------------------------------------

    def _encrypt(self, key: ec.EllipticCurvePrivateKey, kid: str) -> bytes:
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, der, kid.encode())  # kid as AAD: rows cannot be swapped

    def _decrypt(self, blob: bytes, kid: str) -> ec.EllipticCurvePrivateKey:
        der = self._aead.decrypt(blob[:12], blob[12:], kid.encode())
        key = serialization.load_der_private_key(der, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    # -- loading and rotation ------------------------------------------------------------------------------

    def _load(self) -> None:
        with self.db.global_tx() as conn:
            rows = conn.execute(
                "SELECT kid, private_key_enc, created_at, retires_at, expires_at FROM signing_keys "
                "WHERE expires_at IS NULL OR expires_at > now() ORDER BY created_at DESC"
            ).fetchall()
        keys: list[SigningKey] = []
        for row in rows:
            try:
                private = self._decrypt(bytes(row["private_key_enc"]), row["kid"])
            except Exception:  # wrong jwt-keys secret: skip the key (and say so) rather than crash
                log.error("cannot decrypt signing key; was the jwt-keys secret changed?", extra={"kid": row["kid"]})
                continue
            keys.append(SigningKey(row["kid"], private, row["created_at"], row["retires_at"], row["expires_at"]))
        with self._lock:
            self._keys = keys
            self._loaded_at = datetime.now(UTC)

    def ensure_current(self, force_rotate: bool = False) -> SigningKey:
        """Make sure a young enough active key exists (rotating if due, or if forced) and return it."""
        with self.db.global_tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            now = conn.execute("SELECT now() AS now").fetchone()["now"]  # type: ignore[index]
            active = conn.execute(
                "SELECT kid, created_at FROM signing_keys WHERE retires_at IS NULL OR retires_at > now() "
                "ORDER BY created_at DESC LIMIT 1"
            ).fetchone()
            if force_rotate or active is None or active["created_at"] + self.rotation <= now:
                private = ec.generate_private_key(ec.SECP256R1())
                kid = f"{now:%Y%m%d}-{uuid.uuid4().hex[:12]}"
                # Every currently active key retires now and stays published for the overlap window.
                conn.execute(
                    "UPDATE signing_keys SET retires_at = %s, expires_at = %s "
                    "WHERE retires_at IS NULL OR retires_at > %s",
                    [now, now + self.overlap, now],
                )
                key = SigningKey(kid, private, now, None, None)
                conn.execute(
                    "INSERT INTO signing_keys (kid, alg, private_key_enc, public_jwk, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [kid, ALG, self._encrypt(private, kid), json.dumps(key.public_jwk()), now],
                )
                conn.execute("DELETE FROM signing_keys WHERE expires_at < now() - interval '1 day'")
                log.info("signing key rotated", extra={"kid": kid})
        self._load()
        return self.signing_key()

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None and bool(self._keys)

    def refresh_if_stale(self, max_age_seconds: float = 60.0) -> None:
        loaded = self._loaded_at
        if loaded is None or datetime.now(UTC) - loaded > timedelta(seconds=max_age_seconds):
            self._load()

    # -- use -----------------------------------------------------------------------------------------------

    def signing_key(self) -> SigningKey:
        now = datetime.now(UTC)
        with self._lock:
            for key in self._keys:
                if key.active(now):
                    return key
        raise errors.Unavailable("no signing key loaded yet (database unreachable?); retry shortly")

    def verification_key(self, kid: str) -> SigningKey | None:
        now = datetime.now(UTC)
        for attempt in range(2):
            with self._lock:
                for key in self._keys:
                    if key.kid == kid and key.published(now):
                        return key
            if attempt == 0:
                self._load()  # another replica may have rotated since we loaded
        return None

    def jwks(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        with self._lock:
            return {"keys": [k.public_jwk() for k in self._keys if k.published(now)]}
