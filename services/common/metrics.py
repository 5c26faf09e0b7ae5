"""Prometheus metrics per RPC (rate, errors, duration) and the /metrics HTTP endpoint."""

from __future__ import annotations

import logging
import threading

import prometheus_client
from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

REQUESTS = Counter("shop_grpc_requests", "gRPC requests handled", ["service", "method", "code"])
ERRORS = Counter(
    "shop_grpc_errors", "gRPC requests that ended with a status other than OK", ["service", "method", "code"]
)
DURATION = Histogram(
    "shop_grpc_request_duration_seconds",
    "gRPC request handling time",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_lock = threading.Lock()
_started: dict[int, object] = {}


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from other pods
    """Serve /metrics on ``port`` (0 disables it). Idempotent per port, because tests run several servers."""
    if port == 0:
        return
    with _lock:
        if port in _started:
            return
        server, _thread = prometheus_client.start_http_server(port, addr)
        _started[port] = server
        log.info("metrics endpoint listening", extra={"port": port})
