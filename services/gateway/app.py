"""The gateway application: routes, error handlers, health/readiness/metrics, per-request budget and tracing."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import prometheus_client
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway import budget, metrics, problems
from services.gateway.fastpath import CachedReadFastPath
from services.gateway.routes import auth, cart, orders, products
from services.gateway.runtime import Gateway
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)
SERVICE = "gateway"


def _unrecorded_span() -> NonRecordingSpan:
    """What the SDK makes with ALWAYS_OFF: the caller's trace id (else a new one), a new span id, unsampled."""
    parent = trace.get_current_span().get_span_context()
    trace_id = parent.trace_id if parent.is_valid else (random.getrandbits(128) or 1)
    return NonRecordingSpan(
        SpanContext(
            trace_id,
            random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
            trace_state=parent.trace_state if parent.is_valid else None,
        )
    )


class RequestContextMiddleware:
    """Pure ASGI (cheaper than BaseHTTPMiddleware on the hot cached path): budget, server span, metrics."""

    def __init__(self, app: ASGIApp, budget_s: float) -> None:
        self.app = app
        self.budget_s = budget_s
        self.tracer = trace.get_tracer("services.gateway")
        # Without an exporter nothing is recorded (services/common/tracing.py): the request then only needs a span
        # *context* (trace id for logs and problem bodies, W3C propagation), made directly: the SDK's unsampled
        # span costs ~4x more (sampler, id generator, context manager) for the same result.
        probe = self.tracer.start_span("probe")
        self.records = probe.is_recording()
        probe.end()
        # Labelled children cached: .labels() takes a lock and builds a key on every call otherwise.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope.get("headers", ())
            if k in (b"traceparent", b"tracestate")
        }
        # No incoming context (the usual case at the edge): nothing to extract or attach.
        ctx_token = otel_context.attach(propagate.extract(carrier)) if carrier else None
        budget_token = budget.start(self.budget_s)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            if self.records:
                with self.tracer.start_as_current_span(
                    f"{scope['method']} {scope['path']}", kind=SpanKind.SERVER
                ) as span:
                    await self.app(scope, receive, send_wrapper)
                    span.set_attribute("http.status_code", status)
            else:
                span_token = otel_context.attach(trace.set_span_in_context(_unrecorded_span()))
                try:
                    await self.app(scope, receive, send_wrapper)
                finally:
                    otel_context.detach(span_token)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self._observe(path, scope["method"], status, time.perf_counter() - start)
            budget.reset(budget_token)
            if ctx_token is not None:
                otel_context.detach(ctx_token)

    def _observe(self, path: str, method: str, status: int, elapsed: float) -> None:
        counter = self._counters.get((path, method, status))
        if counter is None:
            counter = self._counters[(path, method, status)] = metrics.HTTP_REQUESTS.labels(
                SERVICE, path, method, str(status)
            )
        counter.inc()
        timer = self._timers.get((path, method))
        if timer is None:
            timer = self._timers[(path, method)] = metrics.HTTP_DURATION.labels(SERVICE, path, method)
        timer.observe(elapsed)


def _no_native_telemetry() -> dict[str, Any]:
    """FastAPI >= 0.16x wraps every request in its own OpenTelemetry span and metrics once a tracer provider is
    installed: a second server span next to RequestContextMiddleware's, and ~12 % of a cached read's CPU. The
    gateway keeps its own (span, Prometheus metrics); the native one is turned off where FastAPI has it."""
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    return {}


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw = Gateway.create(settings)
        app.state.gateway = gw
        app.state.loop = asyncio.get_running_loop()  # for operational hooks and tests that act on the gateway
        known = set(settings.tenant_hosts.values()) | ({settings.default_tenant} if settings.default_tenant else set())
        for tenant in known:
            gw.seen_tenant(tenant)
        log.info("gateway started", extra={"settings": repr(settings)})
        try:
            yield
        finally:
            gw.draining = True
            await gw.close()

    app = FastAPI(
        **_no_native_telemetry(),
        title="eks-shop gateway",
        version="1.0.0",
        description="Backend-for-frontend of the eks-shop storefronts. Errors are RFC 9457 problem details.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # Built once and cached by FastAPI; the error responses are rewritten to the problem+json really sent.
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problems(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Inner first: the fast path of the cached reads runs inside the budget/span/metrics middleware.
    app.add_middleware(CachedReadFastPath)
    app.add_middleware(RequestContextMiddleware, budget_s=settings.request_timeout_s)
    app.add_exception_handler(RequestValidationError, problems.validation_handler)
    app.add_exception_handler(problems.ApiProblem, problems.problem_handler)
    app.add_exception_handler(StarletteHTTPException, problems.http_exception_handler)
    app.add_exception_handler(Exception, problems.unexpected_handler)
    for module in (products, cart, orders, auth):
        app.include_router(module.router)
    app.include_router(auth.me_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # Liveness: the event loop answers. Dependencies are readiness's business, never a reason to restart.
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        gw: Gateway = request.app.state.gateway
        deps = await gw.dependencies()
        # Ready while the gateway can serve something useful: catalog reachable, or Redis there to serve cached
        # pages. Failing readiness for a shared dependency would pull EVERY replica and turn a partial outage
        # (e.g. orders down, browsing fine) into a total one.
        ready = not gw.draining and (deps["catalog"] or deps["redis"])
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "dependencies": deps}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    return app
