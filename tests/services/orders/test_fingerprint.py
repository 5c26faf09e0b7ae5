"""The idempotency fingerprint: which requests with the same key are the same request (pure domain, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.orders.domain.fingerprint import request_fingerprint, same_request
from services.orders.domain.model import LineRequest, Order, OrderLine, Placement

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LINES = [LineRequest("p1", 2), LineRequest("p2", 1)]
ADDRESS = {"name": "A", "line1": "1 Road", "line2": "", "city": "Oslo", "postal_code": "0150", "country": "NO"}


def claim(currency: str) -> Order:
    """The claim a request with ``currency`` wrote: requested lines, unpriced, currency not known yet."""
    return Order.claim(
        order_id="o-1",
        tenant_id="acme",
        user_id="u1",
        idempotency_key="key-12345",
        request_fingerprint=request_fingerprint(LINES, currency, ADDRESS),
        lines=LINES,
        now=NOW,
        actor="user:u1",
        trace_id="t",
        shipping_address=ADDRESS,
    )


def placed(requested_currency: str, currency: str = "USD") -> Order:
    order = claim(requested_currency)
    order.apply_prices([OrderLine(li.product_id, "S", "n", li.quantity, 100, currency) for li in LINES])
    order.placement = Placement.PLACED
    return order


def test_line_order_duplicates_and_empty_address_fields_do_not_change_the_fingerprint() -> None:
    shuffled = request_fingerprint(list(reversed(LINES)), "USD", {**ADDRESS, "region": ""})
    assert shuffled == request_fingerprint(LINES, "USD", ADDRESS)
    assert request_fingerprint(LINES, "", ADDRESS) != request_fingerprint(LINES, "USD", ADDRESS)


@pytest.mark.parametrize(("requested", "retried"), [("USD", ""), ("", "USD"), ("", ""), ("USD", "USD")])
def test_an_empty_currency_is_the_currency_the_order_was_placed_in(requested: str, retried: str) -> None:
    assert same_request(placed(requested), LINES, retried, ADDRESS) is True


@pytest.mark.parametrize(("requested", "retried"), [("USD", "EUR"), ("", "EUR")])
def test_another_currency_than_the_orders_is_another_request(requested: str, retried: str) -> None:
    assert same_request(placed(requested), LINES, retried, ADDRESS) is False


@pytest.mark.parametrize("retried", ["", "USD"])
def test_other_lines_or_address_are_another_request_whatever_the_currency(retried: str) -> None:
    for order in (placed("USD"), placed(""), claim("USD"), claim("")):
        assert same_request(order, [LineRequest("p1", 3)], retried, ADDRESS) is False
        assert same_request(order, LINES, retried, {**ADDRESS, "city": "Bergen"}) is False


def test_a_claim_in_progress_decides_the_currency_once_it_is_placed() -> None:
    # Exactly the claimed request: the same (wait for it); two different currencies: never the same.
    assert same_request(claim("USD"), LINES, "USD", ADDRESS) is True
    assert same_request(claim(""), LINES, "", ADDRESS) is True
    assert same_request(claim("USD"), LINES, "EUR", ADDRESS) is False
    # One named a currency, the other left it empty: known only once the claim is placed (None: wait).
    assert same_request(claim("USD"), LINES, "", ADDRESS) is None
    assert same_request(claim(""), LINES, "USD", ADDRESS) is None
