"""Property tests of the order state machine (pure domain, no I/O)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.orders.domain.errors import InvalidArgument, InvalidTransition
from services.orders.domain.model import (
    TERMINAL,
    TRANSITIONS,
    LineRequest,
    Order,
    OrderLine,
    OrderStatus,
    ReservationState,
    validate_lines,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# The intended machine, written independently of TRANSITIONS so a typo there is caught.
EXPECTED = {
    ("PENDING", "CONFIRMED"),
    ("PENDING", "CANCELLED"),
    ("CONFIRMED", "SHIPPED"),
    ("CONFIRMED", "CANCELLED"),
    ("SHIPPED", "DELIVERED"),
}


def new_order() -> Order:
    return Order.create(
        order_id="o-1",
        tenant_id="acme",
        user_id="u1",
        idempotency_key="key-12345",
        request_fingerprint="fp",
        lines=[OrderLine("p1", "S1", "thing", 2, 150, "USD")],
        now=NOW,
        actor="user:u1",
        trace_id="t",
    )


def test_transition_table_is_exactly_the_intended_machine() -> None:
    actual = {(a.value, b.value) for a, nxt in TRANSITIONS.items() for b in nxt}
    assert actual == EXPECTED
    assert {OrderStatus.CANCELLED, OrderStatus.DELIVERED} == TERMINAL


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=30))
def test_any_sequence_keeps_a_valid_history(targets: list[OrderStatus]) -> None:
    order = new_order()
    history = [order.status]
    for to in targets:
        before, version = order.status, order.version
        try:
            order.transition(to, actor="admin:x", reason="", trace_id="", now=NOW)
        except InvalidTransition:
            assert (before.value, to.value) not in EXPECTED
            assert (order.status, order.version) == (before, version)  # rejected: nothing changed
            continue
        assert (before.value, to.value) in EXPECTED
        assert order.version == version + 1
        history.append(order.status)
    # every step of the history is a legal edge; nothing follows a terminal state
    for a, b in itertools.pairwise(history):
        assert (a.value, b.value) in EXPECTED
        assert a not in TERMINAL
    # one audit record per accepted change (plus creation), versions contiguous
    assert [r.version for r in order.pending_audit] == list(range(1, order.version + 1))
    assert [r.to_status for r in order.pending_audit] == history


@pytest.mark.parametrize("reservation", [ReservationState.RESERVED, ReservationState.COMMITTED])
@pytest.mark.parametrize("path", [[], [OrderStatus.CONFIRMED]])
def test_a_cancel_owes_the_stock_back_held_or_committed(reservation: ReservationState, path: list[OrderStatus]) -> None:
    """Cancelled goods never shipped: the cancel records RETURNING (the service gives the stock back to catalog)."""
    order = new_order()
    order.reservation_state = reservation
    for to in path:
        order.transition(to, actor="admin:x", reason="", trace_id="", now=NOW)
        assert order.reservation_state == reservation  # only a cancel touches the stock
    order.transition(OrderStatus.CANCELLED, actor="user:u1", reason="changed my mind", trace_id="", now=NOW)
    assert order.reservation_state == ReservationState.RETURNING


@pytest.mark.parametrize(
    "path",
    [[OrderStatus.CONFIRMED, OrderStatus.SHIPPED], [OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED]],
)
def test_goods_that_left_cannot_be_cancelled_so_no_stock_comes_back(path: list[OrderStatus]) -> None:
    order = new_order()
    order.reservation_state = ReservationState.COMMITTED
    for to in path:
        order.transition(to, actor="admin:x", reason="", trace_id="", now=NOW)
    with pytest.raises(InvalidTransition):
        order.transition(OrderStatus.CANCELLED, actor="admin:x", reason="", trace_id="", now=NOW)
    assert (order.status, order.reservation_state) == (path[-1], ReservationState.COMMITTED)


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order = new_order()
        self.terminal_seen: OrderStatus | None = None

    @rule(to=st.sampled_from(list(OrderStatus)))
    def move(self, to: OrderStatus) -> None:
        allowed = self.order.can_transition(to)
        if allowed:
            self.order.transition(to, actor="admin:x", reason="r", trace_id="", now=NOW)
        else:
            with pytest.raises(InvalidTransition):
                self.order.transition(to, actor="admin:x", reason="r", trace_id="", now=NOW)

    @invariant()
    def terminal_states_are_final(self) -> None:
        if self.terminal_seen is not None:
            assert self.order.status == self.terminal_seen
        if self.order.status in TERMINAL:
            self.terminal_seen = self.order.status

    @invariant()
    def status_is_reachable(self) -> None:
        assert self.order.status in TRANSITIONS
        assert self.order.version == len(self.order.pending_audit)


TestOrderMachine = OrderMachine.TestCase
TestOrderMachine.settings = settings(max_examples=200, stateful_step_count=20)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-5, 600)), min_size=1, max_size=8))
def test_line_validation_rejects_non_positive_and_merges(lines: list[tuple[str, int]]) -> None:
    reqs = [LineRequest(p, q) for p, q in lines]
    if any(q <= 0 for _, q in lines):
        with pytest.raises(InvalidArgument):
            validate_lines(reqs)
        return
    totals: dict[str, int] = {}
    for p, q in lines:
        totals[p] = totals.get(p, 0) + q
    if any(v > 1000 for v in totals.values()):
        with pytest.raises(InvalidArgument):
            validate_lines(reqs)
        return
    merged = validate_lines(reqs)
    assert {li.product_id: li.quantity for li in merged} == totals
    assert [li.product_id for li in merged] == sorted(totals)
