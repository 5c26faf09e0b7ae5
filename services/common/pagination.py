"""Opaque, signed page tokens.

A token is ``base64url(json).base64url(hmac)``. The HMAC binds the cursor to the tenant and the query
(``scope``), so a token from another tenant, another query or a tampered one is refused with
INVALID_ARGUMENT instead of silently returning a wrong page. The key comes from the ``page-token-key``
secret; without it a fixed key is used, which is acceptable because RLS, not the token, protects the data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from services.common import errors
from services.common.settings import Secrets

_DEV_KEY = b"eks-shop-page-token-dev-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    def __init__(self, secrets: Secrets | None = None) -> None:
        secret = secrets.get("page-token-key") if secrets else None
        self._key = secret.reveal().encode() if secret and secret.reveal() else _DEV_KEY

    def _mac(self, scope: str, body: bytes) -> bytes:
        return hmac.new(self._key, scope.encode() + b"\x00" + body, hashlib.sha256).digest()[:16]

    def encode(self, scope: str, cursor: dict[str, Any]) -> str:
        body = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(scope, body))}"

    def decode(self, scope: str, token: str, field: str = "page_token") -> dict[str, Any]:
        bad = errors.InvalidArgument(field, "is malformed or belongs to another query; start again without it")
        if len(token) > 1024 or token.count(".") != 1:
            raise bad
        body_b64, mac_b64 = token.split(".")
        try:
            body, mac = _unb64(body_b64), _unb64(mac_b64)
        except (binascii.Error, ValueError):
            raise bad from None
        if not hmac.compare_digest(mac, self._mac(scope, body)):
            raise bad
        try:
            cursor = json.loads(body)
        except ValueError:
            raise bad from None
        if not isinstance(cursor, dict):
            raise bad
        return cursor
