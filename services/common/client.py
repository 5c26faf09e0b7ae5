"""gRPC client channels that forward the tenant and the trace context."""

from __future__ import annotations

import grpc

from services.common.interceptors import ForwardingClientInterceptor

_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    # Retries are the caller's (deadline-aware, idempotent calls only): the channel's own retry layer only buffers.
    ("grpc.enable_retries", 0),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


def channel(address: str) -> grpc.Channel:
    """An insecure channel (mTLS is the mesh's job in the cluster) with tenant and trace forwarding."""
    return grpc.intercept_channel(grpc.insecure_channel(address, options=_OPTIONS), ForwardingClientInterceptor())
