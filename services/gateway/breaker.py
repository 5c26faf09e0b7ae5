"""A small circuit breaker per dependency (closed -> open -> half-open -> closed).

Why: when catalog or Redis is down, every request would otherwise wait for a connect timeout before failing or
falling back. An open breaker fails fast so fallbacks (stale cache, cache bypass) answer in microseconds, and a
single half-open trial call detects recovery without a restart.

The closed state is the hot path (every Redis and gRPC call passes here): ``allow`` and ``record_success`` read
the state without the lock when the breaker is closed and has nothing to reset. A single attribute read is atomic
under the GIL, and racing a concurrent trip is harmless: the call simply counts as having started just before it.
Every state change still happens under the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(RuntimeError):
    """Raised instead of calling a dependency whose breaker is open."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is unavailable (circuit open)")
        self.name = name


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[str, State], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_change = on_state_change
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> State:
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._set(State.HALF_OPEN)
            self._trial_in_flight = False
        return self._state

    def _set(self, state: State) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change:
                self._on_change(self.name, state)

    def allow(self) -> bool:
        """May a call go through now? In half-open exactly one trial call is let through at a time."""
        if self._state is State.CLOSED:
            return True
        with self._lock:
            state = self._current()
            if state is State.CLOSED:
                return True
            if state is State.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def check(self) -> None:
        if not self.allow():
            raise CircuitOpenError(self.name)

    def record_success(self) -> None:
        if self._state is State.CLOSED and self._failures == 0 and not self._trial_in_flight:
            return  # nothing to reset: the common case needs no lock
        with self._lock:
            self._failures = 0
            self._trial_in_flight = False
            self._set(State.CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            state = self._current()
            self._trial_in_flight = False
            if state is State.HALF_OPEN:
                self._trip()
                return
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._trip()

    def release(self) -> None:
        """The call ended with an outcome that says nothing about the dependency's health (e.g. NOT_FOUND)."""
        if self._state is State.CLOSED and not self._trial_in_flight:
            return
        with self._lock:
            if self._state is State.HALF_OPEN:
                # It answered: that is proof enough that it is reachable again.
                self._failures = 0
                self._set(State.CLOSED)
            self._trial_in_flight = False

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._set(State.OPEN)
