"""OpenTelemetry setup and W3C trace-context propagation over gRPC metadata.

A TracerProvider is always installed, even without an exporter, so every request gets a trace id that the JSON
logs and the orders audit log can carry and that propagates to downstream services.

Without an exporter (``SHOP_OTEL_EXPORTER=none``, the local default) the provider samples nothing: spans are
non-recording (no attributes, events, span processors or end-of-span work), which took 10-25 % of the gateway's
CPU on a cached read when every span was recorded and then dropped. Trace ids are still generated and the W3C
context still propagates (a caller's trace id is kept), so logs and audit records stay correlated; the forwarded
context is marked unsampled, consistently with nothing being recorded here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured = False


def setup_tracing(service: str, exporter: str = "none") -> None:
    """Install the global tracer provider once; ``exporter`` is none, console or an OTLP endpoint."""
    global _configured
    with _lock:
        if _configured:
            return
        resource = Resource.create({"service.name": service})
        if exporter in ("", "none"):
            # Nothing would receive the spans: do not record them at all (ids and propagation still work).
            trace.set_tracer_provider(TracerProvider(resource=resource, sampler=ALWAYS_OFF))
            _configured = True
            return
        provider = TracerProvider(resource=resource)
        if exporter == "console":
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            otlp = _otlp_exporter(exporter)
            if otlp is not None:
                provider.add_span_processor(BatchSpanProcessor(otlp))
        trace.set_tracer_provider(provider)
        _configured = True


def _otlp_exporter(endpoint: str) -> SpanExporter | None:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning(
            "SHOP_OTEL_EXPORTER is an OTLP endpoint but opentelemetry-exporter-otlp is not installed; "
            "spans are not exported",
            extra={"endpoint": endpoint},
        )
        return None
    exporter: SpanExporter = OTLPSpanExporter(endpoint=endpoint)
    return exporter


def extract_context(metadata: Iterable[tuple[str, str | bytes]]) -> object:
    carrier = {k: v for k, v in metadata if isinstance(v, str)}
    return propagate.extract(carrier)


def inject_metadata() -> Mapping[str, str]:
    """The current trace context as gRPC metadata entries (``traceparent``, ``tracestate``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
