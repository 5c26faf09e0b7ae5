"""argon2id password hashing with a constant-cost path for unknown accounts.

Sign-in for an unknown e-mail verifies the password against a dummy hash made with the same parameters, so the
response takes as long as for a known e-mail with a wrong password and the two cannot be told apart by timing.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 2) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``stored_hash=None`` burns the same time and returns False."""
        try:
            self._hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
