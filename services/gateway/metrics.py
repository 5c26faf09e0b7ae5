"""Prometheus metrics of the gateway (HTTP requests, backend calls, cache, rate limits, breakers)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("shop_http_requests", "HTTP requests handled", ["service", "route", "method", "code"])
HTTP_DURATION = Histogram(
    "shop_http_request_duration_seconds",
    "HTTP request handling time",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BACKEND_CALLS = Counter("shop_gateway_backend_calls", "gRPC calls to backends", ["dependency", "method", "code"])
CACHE = Counter("shop_gateway_cache", "catalog cache outcomes", ["outcome"])  # hit, miss, stale, bypass, coalesced
RATE_LIMITED = Counter("shop_gateway_rate_limited", "requests refused by the rate limiter", ["scope"])
BREAKER_STATE = Gauge(
    "shop_gateway_breaker_open", "1 when the dependency's circuit is open or half-open", ["dependency"]
)
INVALIDATIONS = Counter("shop_gateway_cache_invalidations", "catalog change events applied", ["kind"])
