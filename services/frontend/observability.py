"""JSON logs and a minimal Prometheus /metrics without extra dependencies.

The frontend image installs only ``.[frontend]`` (FastAPI, Jinja2, httpx): no prometheus-client or
OpenTelemetry, so the few series it exports are written in the Prometheus text format here.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, datetime

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.gateway_errors: dict[str, int] = defaultdict(int)
        self.hist: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.hist_sum: dict[str, float] = defaultdict(float)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            self.hist[route][bisect_left(BUCKETS, seconds)] += 1
            self.hist_sum[route] += seconds

    def gateway_error(self, kind: str) -> None:
        with self._lock:
            self.gateway_errors[kind] += 1

    def render(self) -> str:
        lines = ["# HELP shop_http_requests_total HTTP requests handled", "# TYPE shop_http_requests_total counter"]
        with self._lock:
            for (route, method, code), n in sorted(self.requests.items()):
                labels = f'service="frontend",route="{route}",method="{method}",code="{code}"'
                lines.append(f"shop_http_requests_total{{{labels}}} {n}")
            lines += [
                "# HELP shop_frontend_gateway_errors_total failed calls to the gateway",
                "# TYPE shop_frontend_gateway_errors_total counter",
            ]
            for kind, n in sorted(self.gateway_errors.items()):
                lines.append(f'shop_frontend_gateway_errors_total{{kind="{kind}"}} {n}')
            lines += [
                "# HELP shop_http_request_duration_seconds HTTP request handling time",
                "# TYPE shop_http_request_duration_seconds histogram",
            ]
            for route, counts in sorted(self.hist.items()):
                cumulative = 0
                for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                    cumulative += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(
                        f'shop_http_request_duration_seconds_bucket{{service="frontend",route="{route}",le="{le}"}} '
                        f"{cumulative}"
                    )
                lines.append(
                    f'shop_http_request_duration_seconds_count{{service="frontend",route="{route}"}} {cumulative}'
                )
                lines.append(
                    f'shop_http_request_duration_seconds_sum{{service="frontend",route="{route}"}} '
                    f"{self.hist_sum[route]}"
                )
        return "\n".join(lines) + "\n"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": "frontend",
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("trace_id", "path", "status", "error"):
            if hasattr(record, key):
                entry[key] = str(getattr(record, key))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
