"""Request fingerprint stored with the idempotency key.

Same key + same fingerprint -> the same order is returned; same key + another fingerprint -> ALREADY_EXISTS.
The fingerprint covers what the client decides (items after merging duplicates, currency, shipping address),
canonicalised so that line order and duplicate lines do not change it.

The currency is the one part a client may leave to orders: an empty currency means "the catalog prices'
currency" (what the gateway sends), while older clients named the currency they had read from catalog. Both ask
for the same order, so an empty currency and the currency the order was actually placed in count as the same
request (``same_request``): a retry by a client of the other kind (a rolling deploy) replays the order instead
of answering ALREADY_EXISTS. The stored fingerprint is unchanged (stored orders keep matching).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from services.orders.domain.model import LineRequest, Order, Placement


def request_fingerprint(lines: list[LineRequest], currency: str, shipping: Mapping[str, str]) -> str:
    body = {
        "items": sorted([line.product_id, line.quantity] for line in lines),
        "currency": currency,
        "shipping": {k: shipping[k] for k in sorted(shipping) if shipping[k]},
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def same_request(order: Order, lines: list[LineRequest], currency: str, shipping: Mapping[str, str]) -> bool | None:
    """Is this request (validated lines, upper-case or empty currency, cleaned address) the one ``order`` holds?

    None while that cannot be known yet: the two differ only in that one named a currency and the other left it
    empty, and ``order`` is a claim not placed yet, so its currency is unknown (wait for it to be placed).
    """
    stored = order.request_fingerprint
    if stored == request_fingerprint(lines, currency, shipping):
        return True
    if order.placement == Placement.PLACED:
        if currency not in ("", order.currency):
            return False  # a currency other than the order's: never the same request
        other = order.currency if currency == "" else ""
        return stored == request_fingerprint(lines, other, shipping)
    # A claim: its lines and address are the requested ones (unpriced), its requested currency is only in `stored`.
    claimed = [LineRequest(line.product_id, line.quantity) for line in order.lines]
    if request_fingerprint(claimed, "", order.shipping_address) != request_fingerprint(lines, "", shipping):
        return False  # other lines or another address
    if currency and stored != request_fingerprint(lines, "", shipping):
        return False  # both named a currency, not the same one
    return None
