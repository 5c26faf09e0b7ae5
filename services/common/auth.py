"""The internal admin credential: metadata ``x-admin-token`` equal to the ``admin-token`` secret file."""

from __future__ import annotations

import hmac

import grpc

from services.common import errors
from services.common.settings import Secrets

ADMIN_METADATA_KEY = "x-admin-token"


def require_admin(context: grpc.ServicerContext, secrets: Secrets) -> None:
    expected = secrets.get("admin-token")
    if expected is None or not expected.reveal():
        raise errors.PermissionDenied("admin calls are disabled: no 'admin-token' secret is configured")
    presented = [v for k, v in context.invocation_metadata() if k == ADMIN_METADATA_KEY]
    if not presented or not isinstance(presented[0], str):
        raise errors.Unauthenticated(f"admin call needs {ADMIN_METADATA_KEY} metadata")
    # Constant-time comparison: the token must not be guessable byte by byte from response times.
    if not hmac.compare_digest(presented[0].encode(), expected.reveal().encode()):
        raise errors.PermissionDenied("admin token refused")
