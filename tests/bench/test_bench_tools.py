"""The benchmark tools' arithmetic and bookkeeping (no timing assertions: durations here are inputs, not checks)."""

from __future__ import annotations

import asyncio

import pytest

from scripts.bench.grpc_load import percentile, run_load, summarize
from scripts.bench.report import END, START, cpu_per_order, replace_section


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0


def test_percentile_rounds_towards_the_worse_value_with_few_samples() -> None:
    # 10 samples: p99 is the slowest one, not an interpolation below it.
    values = [float(v) for v in range(10)]
    assert percentile(values, 99) == 9.0
    assert percentile(values, 50) == 4.0
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [-1.0, 100.5])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], q)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_summarize_counts_rate_and_ignores_error_latencies() -> None:
    latencies = [0.001 * v for v in range(1, 101)]  # 1..100 ms, unsorted order does not matter
    s = summarize("x", list(reversed(latencies)), {"UNAVAILABLE": 3}, elapsed_s=2.0, concurrency=4)
    assert s.ok == 100
    assert s.errors == 3
    assert s.rps == 50.0
    assert s.p50_ms == 50.0
    assert s.p99_ms == 99.0
    assert s.max_ms == 100.0


def test_summarize_with_only_errors_has_no_percentiles() -> None:
    s = summarize("x", [], {"DEADLINE_EXCEEDED": 5}, elapsed_s=1.0, concurrency=1)
    assert (s.ok, s.rps, s.p50_ms, s.p99_ms) == (0, 0.0, None, None)


def test_run_load_stops_at_the_request_budget_and_counts_errors_by_code() -> None:
    calls = 0

    class Rpc(Exception):
        def code(self) -> Code:
            return Code()

    class Code:
        name = "UNAVAILABLE"

    async def call() -> object:
        nonlocal calls
        calls += 1
        n = calls  # read before yielding: the other workers move the counter meanwhile
        await asyncio.sleep(0)
        if n % 5 == 0:
            raise Rpc()
        return None

    latencies, errors, elapsed = asyncio.run(run_load(call, concurrency=3, requests=50, duration_s=60, warmup=10))
    assert calls == 60  # warm-up calls are made but not measured
    assert len(latencies) + sum(errors.values()) == 50
    assert errors == {"UNAVAILABLE": 10}
    assert elapsed > 0


def test_run_load_validates_its_bounds() -> None:
    async def call() -> object:
        return None

    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(run_load(call, concurrency=0, requests=1, duration_s=1))


def test_replace_section_only_touches_our_markers() -> None:
    doc = f"# Benchmarks\n\nother section\n\n{START}\nold numbers\n{END}\n\n## someone else's\nkept\n"
    new = replace_section(doc, "new numbers")
    assert "old numbers" not in new
    assert f"{START}\nnew numbers\n{END}" in new
    assert new.startswith("# Benchmarks\n\nother section\n")
    assert new.endswith("## someone else's\nkept\n")


def test_replace_section_appends_when_markers_are_missing() -> None:
    new = replace_section("# Benchmarks\n\nsomething\n", "numbers")
    assert new == f"# Benchmarks\n\nsomething\n\n{START}\nnumbers\n{END}\n"


def testcpu_per_order_divides_each_process_by_the_orders_placed() -> None:
    runs = {
        "checkout-items": {
            "checkout": {"count": 100},
            "process_cpu_ms": {"gateway": 300.0, "orders": 400.0, "catalog": 350.0, "mongo": 300.0},
        },
        "no-cpu": {"checkout": {"count": 10}},
    }
    lines = cpu_per_order(runs, [("checkout-items", "items"), ("no-cpu", "skipped"), ("absent", "absent")])
    row = next(line for line in lines if line.startswith("| items |"))
    # gateway, orders, catalog, mongo, postgres (not measured: 0), redis (0), total
    assert row == "| items | 3.00 | 4.00 | 3.50 | 3.00 | 0.00 | 0.00 | 13.50 |"
    assert not any("skipped" in line or "absent" in line for line in lines)
    assert cpu_per_order({}, [("checkout-items", "items")]) == []
