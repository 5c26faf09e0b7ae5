"""Request fingerprint stored with the idempotency key.

Same key + same fingerprint -> the same order is returned; same key + another fingerprint -> ALREADY_EXISTS.
The fingerprint covers what the client decides (items after merging duplicates, currency, shipping address),
canonicalised so that line order and duplicate lines do not change it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from services.orders.domain.model import LineRequest


def request_fingerprint(lines: list[LineRequest], currency: str, shipping: Mapping[str, str]) -> str:
    body = {
        "items": sorted([line.product_id, line.quantity] for line in lines),
        "currency": currency,
        "shipping": {k: shipping[k] for k in sorted(shipping) if shipping[k]},
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
