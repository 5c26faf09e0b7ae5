"""Every Redis key the gateway writes, built here, with the hash tags that make it work on a Redis cluster.

In cluster mode (ElastiCache with cluster mode enabled, ``SHOP_REDIS_CLUSTER=true``) a key's slot is the CRC16 of
its hash tag, the part between the first ``{`` and the next ``}``; a Lua script, a MULTI/EXEC transaction and a
multi-key command may only touch keys of ONE slot (else CROSSSLOT; redis-py's cluster client refuses them before
sending). So every group of keys used together in one atomic operation shares a tag:

``{t:<tenant>}`` (:func:`tenant_tag`): the tenant's rate-limit buckets and catalog cache, which the gate's script
  (ratelimit.GATE_LUA) takes and reads in one call: ``rl:c:<client>``, ``rl:tenant``, ``cache:gen``,
  ``cache:<kind>:<hash>``, ``stale:<kind>:<hash>``, ``lock:<kind>:<hash>``. Invalidation is one INCR of
  ``cache:gen`` (no SCAN, no multi-key DEL), so it works per slot as it is.
``{t:<tenant>:u:<user>}`` (:func:`user_tag`): a user's cart ``cart`` and checkout records ``idem:<sha>``, which
  checkout's finish (routes/cart.py ``CHECKOUT_FINISH_LUA``) writes and deletes in one script.
``{t:<tenant>:s:<session>}`` (:func:`session_tag`): a guest's cart ``cart``. Merging it into the user's cart at
  sign-in spans two tags, so it is two single-slot scripts (take the guest cart, then add it), not one.

The tags spread users and guests over the shards; a tenant's limiter and cache share one slot (its load is bounded
by its rate limit). The same names are used on a single-node Redis, where the braces mean nothing.
"""

from __future__ import annotations

import hashlib


def tenant_tag(tenant: str) -> str:
    """The prefix of a tenant's limiter and cache keys; the braces make Redis cluster hash only ``t:<tenant>``."""
    return "{t:" + tenant + "}"


def user_tag(tenant: str, user_id: str) -> str:
    """The prefix of a signed-in user's cart and checkout records (one slot per user)."""
    return "{t:" + tenant + ":u:" + user_id + "}"


def session_tag(tenant: str, session: str) -> str:
    """The prefix of a guest's cart (one slot per ``X-Session-Id``)."""
    return "{t:" + tenant + ":s:" + session + "}"


def user_cart(tenant: str, user_id: str) -> str:
    return f"{user_tag(tenant, user_id)}:cart"


def guest_cart(tenant: str, session: str) -> str:
    return f"{session_tag(tenant, session)}:cart"


def checkout_record(tenant: str, user_id: str, idempotency_key: str) -> str:
    """The order a cart checkout with this ``Idempotency-Key`` placed; in the slot of the user's cart."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"{user_tag(tenant, user_id)}:idem:{digest}"
