"""Throttling of failed sign-ins per (tenant, e-mail) and per client, in a sliding window.

In memory per replica: with N replicas an attacker gets at most N times the budget, still far below what
password guessing needs. A shared store (Redis) would make it exact; see the report's open items.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class FailureThrottle:
    def __init__(self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and entries[0] <= now - self.window:
            entries.popleft()
        return entries

    def blocked(self, key: str) -> bool:
        with self._lock:
            blocked = len(self._prune(key, self.clock())) >= self.max_failures
            if not self._failures.get(key):
                self._failures.pop(key, None)
            return blocked

    def fail(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._prune(key, now).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of distinct keys
                self._failures.clear()

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
