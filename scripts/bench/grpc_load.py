"""A small, bounded, concurrent gRPC load generator for the backends (issue 6's benchmark figures).

    python -m scripts.bench.grpc_load catalog-list --catalog 127.0.0.1:50051 --tenant bench \
        --concurrency 16 --requests 4000 --duration 20 --warmup 200 --json out.json

Scenarios: ``catalog-list`` (ListProducts, 20 per page), ``catalog-get`` (GetProduct of a random product),
``place-order`` (PlaceOrder with a fresh idempotency key, one unit of a random product, as ``--user-id``).

Every run is bounded twice: at most ``--requests`` measured calls and at most ``--duration`` seconds, so a slow or
hung service cannot keep the loop going. It is a closed loop (``--concurrency`` workers, each waiting for its
reply), which measures capacity; the numbers include the client's own CPU on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Call = Callable[[], Awaitable[object]]


# -- statistics (pure; unit-tested) -----------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..100).

    Nearest rank, not interpolation: p99 is then a latency some request really had, which is what the goal
    ("p99 under 25 ms") is about; with few samples it rounds towards the worse value.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if q == 0.0:
        return float(sorted_values[0])
    rank = math.ceil(q / 100.0 * len(sorted_values))
    return float(sorted_values[rank - 1])


@dataclass(frozen=True)
class Summary:
    scenario: str
    ok: int
    errors: int
    error_codes: dict[str, int]
    elapsed_s: float
    rps: float  # successful calls per second of wall time
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    concurrency: int
    extra: dict[str, Any] = field(default_factory=dict)


def summarize(
    scenario: str,
    latencies_s: Sequence[float],
    error_codes: dict[str, int],
    elapsed_s: float,
    concurrency: int,
    extra: dict[str, Any] | None = None,
) -> Summary:
    """Latency percentiles over successful calls only: a fast error must not make the service look quick."""
    if elapsed_s <= 0:
        raise ValueError("elapsed time must be positive")
    ordered = sorted(latencies_s)
    ms: Callable[[float], float] = lambda s: round(s * 1000.0, 3)  # noqa: E731 - a one-line unit conversion
    return Summary(
        scenario=scenario,
        ok=len(ordered),
        errors=sum(error_codes.values()),
        error_codes=dict(sorted(error_codes.items())),
        elapsed_s=round(elapsed_s, 3),
        rps=round(len(ordered) / elapsed_s, 1),
        p50_ms=ms(percentile(ordered, 50)) if ordered else None,
        p99_ms=ms(percentile(ordered, 99)) if ordered else None,
        max_ms=ms(ordered[-1]) if ordered else None,
        concurrency=concurrency,
        extra=extra or {},
    )


# -- the bounded closed loop ------------------------------------------------------------------------------------


async def run_load(
    call: Call, *, concurrency: int, requests: int, duration_s: float, warmup: int = 0
) -> tuple[list[float], dict[str, int], float]:
    """Run ``call`` from ``concurrency`` workers: ``warmup`` unmeasured calls, then up to ``requests`` measured
    calls within ``duration_s``. Returns (latencies of successes in s, error counts by code name, elapsed s)."""
    if concurrency < 1 or requests < 1 or duration_s <= 0 or warmup < 0:
        raise ValueError("concurrency and requests must be >= 1, duration > 0, warmup >= 0")

    async def drain(budget: list[int], deadline: float, sink: list[float] | None, errors: Counter[str]) -> None:
        # budget is a one-element list shared by the workers: single-threaded asyncio makes the decrement safe.
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            try:
                await call()
            except Exception as exc:  # every failure is counted by its gRPC code; none stops the run
                code = getattr(exc, "code", None)
                name = code().name if callable(code) else type(exc).__name__
                errors[name] += 1
                continue
            if sink is not None:
                sink.append(time.perf_counter() - started)

    if warmup:
        # Warm-up: channels connected, server caches and JIT-less Python paths warm; its errors are dropped too.
        warm_budget = [warmup]
        warm_deadline = time.monotonic() + duration_s
        await asyncio.gather(*(drain(warm_budget, warm_deadline, None, Counter()) for _ in range(concurrency)))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    budget = [requests]
    started = time.perf_counter()
    deadline = time.monotonic() + duration_s
    await asyncio.gather(*(drain(budget, deadline, latencies, errors) for _ in range(concurrency)))
    return latencies, dict(errors), time.perf_counter() - started


# -- scenarios ---------------------------------------------------------------------------------------------------


ADDRESS = {
    "name": "Bench Shopper",
    "line1": "1 Load Street",
    "city": "Seattle",
    "postal_code": "98101",
    "country": "US",
}


async def _scenario(args: argparse.Namespace) -> Summary:
    # Imported here so the statistics above stay importable (and testable) without grpc.
    import grpc

    from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc
    from services.protos.gen.shop.common.v1 import common_pb2
    from services.protos.gen.shop.orders.v1 import orders_pb2, orders_pb2_grpc

    md: list[tuple[str, str]] = [("x-tenant-id", args.tenant)]
    catalog_channel = grpc.aio.insecure_channel(args.catalog)
    catalog = catalog_pb2_grpc.CatalogServiceStub(catalog_channel)  # type: ignore[no-untyped-call]  # generated
    page = await catalog.ListProducts(catalog_pb2.ListProductsRequest(page_size=100), metadata=md, timeout=10)
    products = list(page.products)
    if not products:
        raise SystemExit(f"tenant {args.tenant!r} has no products in catalog {args.catalog}")
    timeout = args.timeout
    extra: dict[str, Any] = {"products": len(products)}
    call: Call
    channels = [catalog_channel]

    if args.scenario == "catalog-list":
        request = catalog_pb2.ListProductsRequest(page_size=20)

        async def call() -> object:
            return await catalog.ListProducts(request, metadata=md, timeout=timeout)

    elif args.scenario == "catalog-get":
        ids = [p.id for p in products]

        async def call() -> object:
            return await catalog.GetProduct(
                catalog_pb2.GetProductRequest(product_id=random.choice(ids)), metadata=md, timeout=timeout
            )

    elif args.scenario == "place-order":
        if not args.user_id:
            raise SystemExit("place-order needs --user-id (a user of the tenant)")
        orders_channel = grpc.aio.insecure_channel(args.orders)
        channels.append(orders_channel)
        orders = orders_pb2_grpc.OrdersServiceStub(orders_channel)  # type: ignore[no-untyped-call]  # generated
        order_md = [*md, ("x-user-id", args.user_id), ("x-user-role", "customer")]
        address = common_pb2.Address(**ADDRESS)
        # A random product per order spreads the stock updates over rows, as real baskets do; one hot row would
        # measure PostgreSQL's row-lock queue instead of the services.
        choices = [(p.id, p.price.currency) for p in products]
        nonce = uuid.uuid4().hex[:8]
        counter = [0]

        async def call() -> object:
            pid, currency = random.choice(choices)
            counter[0] += 1
            return await orders.PlaceOrder(
                orders_pb2.PlaceOrderRequest(
                    idempotency_key=f"grpc-bench-{nonce}-{counter[0]}",
                    user_id=args.user_id,
                    items=[orders_pb2.OrderItemRequest(product_id=pid, quantity=1)],
                    currency=currency,
                    shipping_address=address,
                ),
                metadata=order_md,
                timeout=timeout,
            )

    else:  # argparse restricts the choices; kept for mypy's exhaustiveness
        raise SystemExit(f"unknown scenario {args.scenario}")

    try:
        latencies, errors, elapsed = await run_load(
            call, concurrency=args.concurrency, requests=args.requests, duration_s=args.duration, warmup=args.warmup
        )
    finally:
        for ch in channels:
            await ch.close()
    return summarize(args.scenario, latencies, errors, elapsed, args.concurrency, extra)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", choices=["catalog-list", "catalog-get", "place-order"])
    p.add_argument("--catalog", default="127.0.0.1:50051")
    p.add_argument("--orders", default="127.0.0.1:50052")
    p.add_argument("--tenant", default="bench")
    p.add_argument("--user-id", default="")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--requests", type=int, default=3000, help="measured calls at most")
    p.add_argument("--duration", type=float, default=20.0, help="seconds at most for the measured part")
    p.add_argument("--warmup", type=int, default=100, help="unmeasured calls first")
    p.add_argument("--timeout", type=float, default=10.0, help="per-call deadline (s)")
    p.add_argument("--json", type=Path, help="write the summary here as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    summary = asyncio.run(_scenario(args))
    text = json.dumps(asdict(summary), indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
