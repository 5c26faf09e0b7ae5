"""gRPC clients of catalog, users and orders: deadlines from the request budget, retries for reads, breakers.

Retries (tenacity, exponential backoff with jitter) are used ONLY for idempotent reads: replaying a write such as
PlaceOrder after an ambiguous failure is the caller's decision (it holds the idempotency key), not the
transport's. Every call passes through the dependency's circuit breaker; a refusal with which a dependency reports
the outage of a service behind it (orders' reason DEPENDENCY_UNAVAILABLE, dependency=catalog) does not count
against the dependency. A refusal's reason (services/common/errors.py Reason) rides on the problem raised, for the
routes that map it (checkout); without one a refusal is mapped by its gRPC code alone.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.common import tracing
from services.common.errors import ErrorReason, Reason, reason_of
from services.gateway import budget, metrics
from services.gateway.breaker import CircuitBreaker, CircuitOpenError
from services.gateway.problems import ApiProblem, from_grpc, unavailable
from services.protos.gen.shop.catalog.v1 import catalog_pb2_grpc
from services.protos.gen.shop.orders.v1 import orders_pb2_grpc
from services.protos.gen.shop.users.v1 import users_pb2_grpc

log = logging.getLogger(__name__)
Metadata = Sequence[tuple[str, str]]
# Outcomes that say the dependency is unhealthy (they feed the breaker); the rest are answers about the request.
DEPENDENCY_FAILURES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
)
_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    # Retries are the caller's (deadline-aware, idempotent calls only): the channel's own retry layer only buffers.
    ("grpc.enable_retries", 0),
    ("grpc.keepalive_timeout_ms", 10_000),
    # Reconnect quickly after a dependency comes back (default backoff grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.min_reconnect_backoff_ms", 200),
]
_STUBS: dict[str, Any] = {
    "catalog": catalog_pb2_grpc.CatalogServiceStub,
    "users": users_pb2_grpc.UsersServiceStub,
    "orders": orders_pb2_grpc.OrdersServiceStub,
}


# When set (collect_trailers), successful calls of this request append their trailing metadata here.
_trailers: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "gateway_trailers", default=None
)


def collect_trailers() -> list[tuple[str, str]]:
    """Start collecting the trailing metadata of the current request's backend calls (e.g. orders' replay flag)."""
    sink: list[tuple[str, str]] = []
    _trailers.set(sink)
    return sink


class DependencyFailure(ApiProblem):
    """A 503/504 problem caused by a dependency (the cache serves stale data on these)."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, DependencyFailure):
        left = budget.remaining()
        # Only worth another attempt when the backend is reachable-but-flaky and time is left.
        return exc.extra.get("grpc_code") == "UNAVAILABLE" and (left is None or left > 0.15)
    return False


class Backend:
    def __init__(
        self,
        name: str,
        address: str,
        breaker: CircuitBreaker,
        *,
        read_timeout: float,
        write_timeout: float,
        attempts: int = 3,
        downstream: Sequence[str] = (),
    ) -> None:
        self.name = name
        # Services this one calls, whose outage it reports with the reason DEPENDENCY_UNAVAILABLE naming them
        # (services/orders/catalog_port.py CATALOG). Any other dependency it names is its own part (its store).
        self.downstream = frozenset(downstream)
        self.address = address
        self.breaker = breaker
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.attempts = attempts
        self.channel = grpc.aio.insecure_channel(address, options=_OPTIONS)
        self.stub: Any = _STUBS[name](self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    @staticmethod
    def metadata(tenant: str | None, extra: Metadata = ()) -> list[tuple[str, str]]:
        md: list[tuple[str, str]] = []
        if tenant:
            md.append(("x-tenant-id", tenant))
        md.extend(tracing.inject_metadata().items())
        md.extend(extra)
        return md

    async def _once(self, method: str, request: Any, md: Metadata, per_call: float) -> Any:
        timeout = budget.timeout_for(per_call)
        if timeout <= 0.01:
            raise DependencyFailure(
                504,
                "timeout",
                "Upstream timeout",
                "the request ran out of time",
                extra={"dependency": self.name, "grpc_code": "DEADLINE_EXCEEDED"},
            )
        try:
            self.breaker.check()
        except CircuitOpenError:
            metrics.BACKEND_CALLS.labels(self.name, method, "CIRCUIT_OPEN").inc()
            p = unavailable(self.name, f"the {self.name} service is temporarily unavailable; please retry shortly")
            raise DependencyFailure(
                p.status, p.kind, p.title, p.detail, headers=p.headers, extra={**p.extra, "grpc_code": "CIRCUIT_OPEN"}
            ) from None
        try:
            call = getattr(self.stub, method)(request, metadata=tuple(md), timeout=timeout)
            response = await call
            sink = _trailers.get()
            if sink is not None:
                sink.extend((str(k), str(v)) for k, v in (await call.trailing_metadata() or ()))
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            reason = reason_of(exc)
            metrics.BACKEND_CALLS.labels(self.name, method, code.name).inc()
            if code in DEPENDENCY_FAILURES and self.downstream_outage(reason) is None:
                self.breaker.record_failure()
            else:
                self.breaker.release()
            problem = from_grpc(code, exc.details(), self.name, reason)
            if problem.status >= 500:
                raise DependencyFailure(
                    problem.status,
                    problem.kind,
                    problem.title,
                    problem.detail,
                    headers=problem.headers,
                    extra={**problem.extra, "grpc_code": code.name},
                    reason=reason,
                ) from None
            raise problem from None
        except BaseException:
            self.breaker.release()  # cancelled by the client going away: no verdict on the dependency
            raise
        self.breaker.record_success()
        metrics.BACKEND_CALLS.labels(self.name, method, "OK").inc()
        return response

    def downstream_outage(self, reason: ErrorReason | None) -> str | None:
        """The service behind this dependency that it reported down (then it is not failing itself), else None.

        Counting such a refusal would open this dependency's breaker during the other service's outage: e.g.
        catalog down would make every order history read fail fast and checkout blame orders. Decided by the
        refusal's reason only (DEPENDENCY_UNAVAILABLE naming one of ``downstream``), never by its message.
        """
        if reason is None or reason.reason != Reason.DEPENDENCY_UNAVAILABLE:
            return None
        dependency = reason.metadata.get("dependency", "")
        return dependency if dependency in self.downstream else None

    async def read(self, method: str, request: Any, md: Metadata) -> Any:
        """An idempotent read: retried with backoff on UNAVAILABLE while the budget allows."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, request, md, self.read_timeout)
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(self, method: str, request: Any, md: Metadata) -> Any:
        """A non-idempotent call: exactly one attempt."""
        return await self._once(method, request, md, self.write_timeout)

    def stream(self, method: str, request: Any, md: Metadata) -> AsyncIterator[Any]:
        call: AsyncIterator[Any] = getattr(self.stub, method)(request, metadata=tuple(md))
        return call

    async def healthy(self, timeout: float = 0.5) -> bool:
        try:
            resp = await self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        await self.channel.close(grace=None)
