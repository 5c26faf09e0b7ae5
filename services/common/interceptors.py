"""Server and client interceptors: observability (tracing, metrics, errors), tenant, forwarding.

In the sync gRPC server, ``intercept_service`` does not run in the thread that runs the handler, so everything
that needs the request's context (span, tenant contextvar, timing) wraps the handler's behaviour instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common import errors, metrics, tenancy, tracing

log = logging.getLogger(__name__)
Behavior = Callable[[Any, grpc.ServicerContext], Any]
# Infrastructure services that are called without a tenant.
TENANT_EXEMPT_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


def _wrap(
    handler: grpc.RpcMethodHandler,
    unary: Callable[[Behavior], Behavior],
    stream: Callable[[Behavior], Behavior],
) -> grpc.RpcMethodHandler:
    """Return a copy of ``handler`` whose behaviour is wrapped; ``stream`` wraps response-streaming ones."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            stream(handler.unary_stream), handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
        )
    return grpc.stream_stream_rpc_method_handler(
        stream(handler.stream_stream), handler.request_deserializer, handler.response_serializer
    )


def _context_code(context: grpc.ServicerContext) -> grpc.StatusCode:
    code = context.code() if hasattr(context, "code") else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK


class ObservabilityInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Outermost interceptor: span per RPC (parented on the caller's traceparent), Prometheus metrics, and the
    mapping of :class:`errors.ShopError` to status codes (its reason, if any, as the status's ErrorInfo).
    Unexpected exceptions become INTERNAL with a generic message (details go to the log, not to the caller)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.tracer = trace.get_tracer("services.common")

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None:
            return None
        method: str = details.method
        parent = tracing.extract_context(details.invocation_metadata or ())

        def unary(inner: Behavior) -> Behavior:
            def behavior(request: Any, context: grpc.ServicerContext) -> Any:
                token = otel_context.attach(parent)  # type: ignore[arg-type]
                start = time.perf_counter()
                try:
                    with self.tracer.start_as_current_span(method, kind=SpanKind.SERVER) as span:
                        span.set_attribute("rpc.system", "grpc")
                        span.set_attribute("rpc.method", method)
                        try:
                            return inner(request, context)
                        except BaseException as exc:
                            self._fail(exc, context, method, span)
                            raise
                finally:
                    # After context.abort() the context holds the final status code.
                    self._observe(method, _context_code(context), start)
                    otel_context.detach(token)

            return behavior

        def stream(inner: Behavior) -> Behavior:
            def behavior(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                token = otel_context.attach(parent)  # type: ignore[arg-type]
                start = time.perf_counter()
                cancelled = False
                try:
                    with self.tracer.start_as_current_span(method, kind=SpanKind.SERVER) as span:
                        span.set_attribute("rpc.system", "grpc")
                        span.set_attribute("rpc.method", method)
                        try:
                            yield from inner(request, context)
                        except GeneratorExit:
                            cancelled = True  # the client went away; not an error of ours
                            raise
                        except BaseException as exc:
                            self._fail(exc, context, method, span)
                            raise
                finally:
                    code = grpc.StatusCode.CANCELLED if cancelled else _context_code(context)
                    self._observe(method, code, start)
                    otel_context.detach(token)

            return behavior

        return _wrap(handler, unary, stream)

    def _fail(self, exc: BaseException, context: grpc.ServicerContext, method: str, span: trace.Span) -> None:
        """Turn ``exc`` into a status (context.abort raises); re-raise aborts that already carry one."""
        if isinstance(exc, errors.ShopError):
            span.set_status(Status(StatusCode.ERROR, exc.code.name))
            self._observe_error(method, exc.code)
            if exc.reason:
                context.abort_with_status(errors.status_with_reason(exc.code, exc.message, exc.reason, exc.metadata))
            context.abort(exc.code, exc.message)
        code = _context_code(context)
        if code != grpc.StatusCode.OK:
            # context.abort() from a handler or an inner interceptor: already has its status.
            self._observe_error(method, code)
            return
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, "INTERNAL"))
        log.error("unhandled error in %s", method, exc_info=exc)
        self._observe_error(method, grpc.StatusCode.INTERNAL)
        context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log for the trace id")

    def _observe_error(self, method: str, code: grpc.StatusCode) -> None:
        metrics.ERRORS.labels(self.service, method, code.name).inc()

    def _observe(self, method: str, code: grpc.StatusCode, start: float) -> None:
        metrics.REQUESTS.labels(self.service, method, code.name).inc()
        metrics.DURATION.labels(self.service, method).observe(time.perf_counter() - start)


class TenantInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Requires a valid ``x-tenant-id`` on every RPC except ``exempt`` ones; exposes it as a contextvar."""

    def __init__(self, exempt: frozenset[str] = frozenset()) -> None:
        self.exempt = exempt

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None:
            return None
        method: str = details.method
        values = [v for k, v in (details.invocation_metadata or ()) if k == tenancy.METADATA_KEY]
        optional = method in self.exempt or method.startswith(TENANT_EXEMPT_PREFIXES)
        field = tenancy.METADATA_KEY
        problem: str | None = None
        tenant: str | None = None
        if len(values) > 1:
            problem = "sent more than once"
        elif values:
            tenant = values[0] if isinstance(values[0], str) else None
            if tenant is None or not tenancy.is_valid_tenant_id(tenant):
                problem = f"must match {tenancy.TENANT_ID_PATTERN}"
        elif not optional:
            problem = "metadata is required"

        def unary(inner: Behavior) -> Behavior:
            def behavior(request: Any, context: grpc.ServicerContext) -> Any:
                if problem:
                    raise errors.InvalidArgument(field, problem)
                if tenant is None:
                    return inner(request, context)
                with tenancy.tenant_context(tenant):
                    return inner(request, context)

            return behavior

        def stream(inner: Behavior) -> Behavior:
            def behavior(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                if problem:
                    raise errors.InvalidArgument(field, problem)
                if tenant is None:
                    yield from inner(request, context)
                    return
                with tenancy.tenant_context(tenant):
                    yield from inner(request, context)

            return behavior

        return _wrap(handler, unary, stream)


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class ForwardingClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds the current tenant (unless the caller set one) and the trace context to outgoing calls."""

    def _details(self, details: Any) -> _CallDetails:
        metadata = list(details.metadata or [])
        keys = {k for k, _ in metadata}
        tenant = tenancy.tenant_or_none()
        if tenant and tenancy.METADATA_KEY not in keys:
            metadata.append((tenancy.METADATA_KEY, tenant))
        metadata.extend((k, v) for k, v in tracing.inject_metadata().items() if k not in keys)
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(details), request_iterator)
