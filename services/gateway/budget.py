"""The request's time budget, so a gRPC call never outlives the HTTP request that asked for it.

Middleware sets a deadline when a request arrives; every backend call uses ``min(per-call timeout, remaining)``
as its gRPC deadline, which gRPC propagates to the callee (orders -> catalog sees the shrunk budget too).
"""

from __future__ import annotations

import contextvars
import time

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("gateway_deadline", default=None)


def start(seconds: float) -> contextvars.Token[float | None]:
    return _deadline.set(time.monotonic() + seconds)


def reset(token: contextvars.Token[float | None]) -> None:
    _deadline.reset(token)


def remaining() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def timeout_for(per_call: float) -> float:
    """The gRPC timeout for one call: the per-call cap, shrunk to what is left of the request's budget."""
    left = remaining()
    return per_call if left is None else min(per_call, left)
