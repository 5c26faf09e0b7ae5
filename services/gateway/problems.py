"""RFC 9457 problem details: the one error shape the gateway answers with.

Why one module: every failure (validation, a backend's gRPC status, an open circuit, an unexpected bug) ends up
here, so no path can leak a stack trace or a backend's internal message, and 5xx is reserved for real faults.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import tracing
from services.common.errors import ErrorReason

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://eks-shop.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        reason: ErrorReason | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}
        # Why the backend refused (its status's ErrorInfo), for the route's own mapping; never rendered.
        self.reason = reason


def invalid(field: str, detail: str) -> ApiProblem:
    return ApiProblem(
        422,
        "validation",
        "Invalid request",
        f"{field}: {detail}",
        field=field,
        extra={"errors": [{"field": field, "detail": detail}]},
    )


def unauthorized(detail: str = "a valid access token is required") -> ApiProblem:
    return ApiProblem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def unavailable(dependency: str, detail: str) -> ApiProblem:
    return ApiProblem(
        503,
        "unavailable",
        "Service temporarily unavailable",
        detail,
        headers={"Retry-After": "5"},
        extra={"dependency": dependency},
    )


# gRPC status -> (HTTP status, problem kind, title). UNAVAILABLE/DEADLINE are the dependency's fault, not ours.
_GRPC_MAP: dict[grpc.StatusCode, tuple[int, str, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "validation", "Invalid request"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "validation", "Invalid request"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found", "Not found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "conflict", "Conflict"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict", "Conflict"),
    grpc.StatusCode.ABORTED: (409, "conflict", "Conflict, retry"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthorized", "Unauthorized"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden", "Forbidden"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "too-many-requests", "Too many requests"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable", "Service temporarily unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "timeout", "Upstream timeout"),
    grpc.StatusCode.CANCELLED: (503, "unavailable", "Service temporarily unavailable"),
}
# Messages of these codes are written for end users by our own services (they name the field at fault).
_PASS_DETAIL = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def from_grpc(
    code: grpc.StatusCode, details: str | None, dependency: str, reason: ErrorReason | None = None
) -> ApiProblem:
    """The generic answer for a backend's status, by its code; ``reason`` rides along for routes that map it."""
    status, kind, title = _GRPC_MAP.get(code, (502, "bad-gateway", "Bad gateway"))
    if code in _PASS_DETAIL and details:
        detail = details[:500]
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        detail = f"the {dependency} service did not answer in time; please retry"
    elif status == 503:
        detail = f"the {dependency} service is temporarily unavailable; please retry shortly"
    else:
        detail = f"the {dependency} service failed; please retry"
    problem = ApiProblem(
        status, kind, title, detail, extra={"dependency": dependency} if status >= 500 else None, reason=reason
    )
    if status == 422 and details and ":" in details:
        field = details.split(":", 1)[0].strip()
        problem.field = field
        problem.extra["errors"] = [{"field": field, "detail": details.split(":", 1)[1].strip()[:300]}]
    if status in (503, 429):
        problem.headers["Retry-After"] = "5"
    if status == 401:
        problem.headers["WWW-Authenticate"] = "Bearer"
    return problem


def render(problem: ApiProblem, request: Request | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if problem.field:
        body["field"] = problem.field
    trace_id = tracing.current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    # grpc_code is for the gateway's own decisions (retry, stale); the client gets the HTTP-level story.
    body.update({k: v for k, v in problem.extra.items() if k != "grpc_code"})
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


# The one error body, as documented in the OpenAPI (extension members such as `dependency` may follow).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "the input at fault, e.g. body.shipping_address.country"},
        "trace_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}},
        },
    },
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI say what the gateway sends: every 4xx/5xx is ``application/problem+json``.

    FastAPI documents its own 422 (``application/json``, HTTPValidationError), which this gateway never sends;
    clients generated from the schema, and schemathesis, were told the wrong media type and body.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if code[:1] in ("4", "5"):
                    response["content"] = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    # "body" / "query" / "header" / "path" first, then the path to the field: body.shipping_address.country.
    return ".".join(parts) if parts else "request"


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = [
        {"field": _loc_to_field(e.get("loc", ())), "detail": str(e.get("msg", "is invalid"))[:300]}
        for e in exc.errors()
    ]
    first = errs[0] if errs else {"field": "request", "detail": "is invalid"}
    problem = ApiProblem(
        422,
        "validation",
        "Invalid request",
        f"{first['field']}: {first['detail']}",
        field=first["field"],
        extra={"errors": errs},
    )
    return render(problem, request)


async def problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return render(exc, request)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {404: "not-found", 405: "method-not-allowed", 400: "bad-request"}
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return render(
        ApiProblem(
            exc.status_code, kinds.get(exc.status_code, "error"), detail, detail, headers=dict(exc.headers or {})
        ),
        request,
    )


async def unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # The trace id in the answer and in the log links the two; the exception itself stays in the log.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render(
        ApiProblem(500, "internal", "Internal error", "an internal error occurred; quote the trace id to support"),
        request,
    )
