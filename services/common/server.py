"""gRPC server bootstrap shared by the services.

Health (grpc.health.v1) is dependency-aware: a background thread runs the critical checks (such as
``SELECT 1``) and reports NOT_SERVING while any fails, so Kubernetes readiness and the local runner stop
routing to a replica whose database is gone. On SIGTERM the server reports NOT_SERVING first (load
balancers drain), then stops accepting RPCs and gives in-flight ones ``shutdown_grace_seconds`` to finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.interceptors import ObservabilityInterceptor, TenantInterceptor
from services.common.metrics import start_metrics_server
from services.common.settings import Settings

log = logging.getLogger(__name__)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class DependencyCheck:
    """A named check that raises (or returns False) when the dependency is unusable."""

    name: str
    check: Callable[[], object]


@dataclass
class ShopServer:
    settings: Settings
    # Adds the servicers to the server; returns their full service names (for health and reflection).
    register: Callable[[grpc.Server], Sequence[str]]
    checks: Sequence[DependencyCheck] = ()
    tenant_exempt_methods: frozenset[str] = frozenset()
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    max_workers: int = 32

    def __post_init__(self) -> None:
        self.port = 0
        self._stopped = threading.Event()
        self._checker_stop = threading.Event()
        self.health = health.HealthServicer()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix=self.settings.service),
            interceptors=[
                ObservabilityInterceptor(self.settings.service),
                TenantInterceptor(self.tenant_exempt_methods),
            ],
            options=[("grpc.so_reuseport", 0)],
        )
        self._service_names = list(self.register(self._server))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection(
            [
                *self._service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self._server,
        )
        self._failing: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> int:
        """Bind and start; returns the bound port (useful with SHOP_GRPC_PORT=0)."""
        address = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise RuntimeError(f"could not bind gRPC port {address}")
        self._run_checks()  # first verdict before accepting traffic
        self._server.start()
        start_metrics_server(self.settings.http_port)
        threading.Thread(target=self._check_loop, name=f"{self.settings.service}-health", daemon=True).start()
        log.info("gRPC server started", extra={"port": self.port, "services": ",".join(self._service_names)})
        return self.port

    def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, refuse new RPCs, let in-flight ones finish within the grace. Idempotent."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._checker_stop.set()
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self.health.enter_graceful_shutdown()
        log.info("shutting down", extra={"grace_seconds": grace})
        self._server.stop(grace).wait(grace + 5)
        for callback in self.on_stop:
            try:
                callback()
            except Exception:
                log.exception("error during shutdown callback")
        log.info("stopped")

    def serve_forever(self) -> None:
        """Start, install SIGTERM/SIGINT handlers, block until stopped."""
        self.start()

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received", extra={"signal": signal.Signals(signum).name})
            # stop() blocks for the grace period; run it off the signal handler.
            threading.Thread(target=self.stop, name="shutdown").start()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        self._server.wait_for_termination()
        self._stopped.wait()

    # -- health ----------------------------------------------------------------------------------------------

    def _check_loop(self) -> None:
        while not self._checker_stop.wait(self.settings.health_interval_seconds):
            self._run_checks()

    def _run_checks(self) -> None:
        failing: set[str] = set()
        for dep in self.checks:
            try:
                ok = dep.check()
            except Exception as exc:
                ok = False
                if dep.name not in self._failing:
                    log.warning("dependency check failed", extra={"dependency": dep.name, "error": str(exc)[:300]})
            if ok is False:
                failing.add(dep.name)
        if failing != self._failing and not failing:
            log.info("all dependencies healthy again")
        self._failing = failing
        self._set_status(NOT_SERVING if failing else SERVING)

    def _set_status(self, status: int) -> None:
        if self._stopped.is_set():
            return  # enter_graceful_shutdown() owns the status now
        for name in ["", *self._service_names]:
            self.health.set(name, status)

    @property
    def failing_dependencies(self) -> frozenset[str]:
        return frozenset(self._failing)


def service_names(*descriptors: Iterable[str]) -> list[str]:
    return [name for group in descriptors for name in group]
