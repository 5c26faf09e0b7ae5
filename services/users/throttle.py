"""Throttling of failed sign-ins per account (tenant, e-mail) and per client, shared by every replica.

The counts live in PostgreSQL (table ``sign_in_failures``, migrations/0002), so N replicas give an attacker the
same budget as one and a restart forgets nothing. Each scope counts failures in a fixed window that its first
failure opens (defaults: 5 per account and 50 per client in 900 s; settings below). An attempt beyond either
limit is refused before its password is checked; a successful sign-in clears the account's failures (the
client's stay).

* One round trip per attempt, before the password is verified: the function ``sign_in_attempt`` counts the
  attempt under the rows' locks and answers whether it may go on, so attempts arriving together cannot all pass
  a check made before any of them is recorded. A failure then costs nothing more; a success costs one more round
  trip (``sign_in_succeeded``: clear the account, give the client its count back).
* The rows are keyed by an HMAC of the e-mail or the client address under a pepper derived from the ``jwt-keys``
  secret (which every replica has and the database never holds): the table holds no personal data in clear and
  its digests cannot be reversed by hashing candidate addresses (see the migration). A new jwt-keys secret makes
  new keys: the counts start over.
* If PostgreSQL is down, sign-in fails (the database error propagates, as for the account lookup): throttling is
  never skipped.
* Counts are per tenant (row level security), for clients too: one storefront's failures never refuse a client
  at another. A storefront that does not exist counts nothing (it has no account to guess).

Settings (environment; docs/conventions.md naming): ``SHOP_SIGNIN_ACCOUNT_MAX_FAILURES`` (5),
``SHOP_SIGNIN_ACCOUNT_WINDOW_S`` (900), ``SHOP_SIGNIN_CLIENT_MAX_FAILURES`` (50), ``SHOP_SIGNIN_CLIENT_WINDOW_S``
(900). Every replica must use the same values (set them in the users ConfigMap, not per pod).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.pg import Database
from services.common.settings import ConfigError, Secret

ACCOUNT, CLIENT = "account", "client"
MAX_FAILURES_LIMIT = 1_000_000
MAX_WINDOW_S = 7 * 24 * 3600.0
_PEPPER_LABEL = b"eks-shop/sign-in-throttle/v1\x00"


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_FAILURES_LIMIT:
        raise ConfigError(f"{name} must be a whole number of failures from 1 to {MAX_FAILURES_LIMIT}, got {raw!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_WINDOW_S):
        raise ConfigError(f"{name} must be a number of seconds above 0 and at most {MAX_WINDOW_S:.0f}, got {raw!r}")
    return value


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins each scope may have within its window (seconds)."""

    account_max_failures: int = 5
    account_window_s: float = 900.0
    client_max_failures: int = 50
    client_window_s: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SignInLimits:
        """The limits from ``SHOP_SIGNIN_*`` (unset or empty: the default); a bad value is a ConfigError naming
        the setting."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            account_max_failures=_count(env, "SHOP_SIGNIN_ACCOUNT_MAX_FAILURES", defaults.account_max_failures),
            account_window_s=_seconds(env, "SHOP_SIGNIN_ACCOUNT_WINDOW_S", defaults.account_window_s),
            client_max_failures=_count(env, "SHOP_SIGNIN_CLIENT_MAX_FAILURES", defaults.client_max_failures),
            client_window_s=_seconds(env, "SHOP_SIGNIN_CLIENT_WINDOW_S", defaults.client_window_s),
        )


@dataclass(frozen=True)
class SignInAttempt:
    """An attempt that was counted and allowed; hand it to :meth:`SignInThrottle.succeeded` if it succeeds."""

    tenant: str
    account_key: bytes
    client_key: bytes


class SignInThrottle:
    def __init__(self, db: Database, pepper_secret: Secret, limits: SignInLimits) -> None:
        self.db = db
        self.limits = limits
        # A key of its own (domain-separated from the signing keys' encryption key, which keys.py derives from
        # the same secret): HMAC under it, the digests say nothing to whoever reads only the database.
        self._pepper = hashlib.sha256(_PEPPER_LABEL + pepper_secret.reveal().encode()).digest()

    def key(self, scope: str, tenant: str, value: str) -> bytes:
        """The row key of ``value`` (an e-mail or a client address): HMAC-SHA256, 32 bytes. Neither the scope nor
        the tenant holds a NUL, so the message cannot be read two ways."""
        message = f"{scope}\x00{tenant}\x00{value}".encode()
        return hmac.new(self._pepper, message, hashlib.sha256).digest()

    def attempt(self, tenant: str, email: str, client: str) -> SignInAttempt | None:
        """Count this attempt against the account and the client; None when either is over its limit (throttled,
        and then nothing is counted). Database errors propagate: sign-in fails rather than go unthrottled."""
        attempt = SignInAttempt(tenant, self.key(ACCOUNT, tenant, email), self.key(CLIENT, tenant, client))
        limits = self.limits
        with self.db.tenant_statement(tenant) as (conn, scoped):
            row = conn.execute(
                "SELECT sign_in_attempt(%s, %s, %s, %s, %s, %s, %s) AS allowed",
                [
                    scoped,
                    attempt.account_key,
                    limits.account_max_failures,
                    limits.account_window_s,
                    attempt.client_key,
                    limits.client_max_failures,
                    limits.client_window_s,
                ],
            ).fetchone()
        return attempt if row is not None and row["allowed"] else None

    def succeeded(self, attempt: SignInAttempt) -> None:
        """The attempt signed in: clear the account's failures and give the client back its count."""
        with self.db.tenant_statement(attempt.tenant) as (conn, scoped):
            conn.execute(
                "SELECT sign_in_succeeded(%s, %s, %s)", [scoped, attempt.account_key, attempt.client_key]
            ).fetchone()
