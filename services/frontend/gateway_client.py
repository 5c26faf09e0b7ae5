"""The frontend's only backend: the gateway's REST API over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


class GatewayDown(Exception):
    """The gateway could not be reached, timed out, or answered 5xx: show "temporarily unavailable"."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or "the shop is temporarily unavailable")
        self.detail = detail


class GatewayProblem(Exception):
    """A 4xx problem+json from the gateway; ``detail`` and ``field`` are written for people."""

    def __init__(self, status: int, detail: str, field: str | None = None, kind: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.kind = kind


class GatewayClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=2.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def call(self, method: str, path: str, *, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise GatewayDown(type(exc).__name__) from None
        if response.status_code >= 500:
            detail = ""
            if response.headers.get("content-type", "").startswith("application/problem+json"):
                detail = str(response.json().get("detail", ""))
            raise GatewayDown(detail)
        if response.status_code >= 400:
            body: dict[str, Any] = {}
            if "json" in response.headers.get("content-type", ""):
                try:
                    body = response.json()
                except ValueError:
                    body = {}
            raise GatewayProblem(
                response.status_code,
                str(body.get("detail") or "the request was refused"),
                body.get("field"),
                str(body.get("type", "")).rsplit("/", 1)[-1],
            )
        return response

    async def close(self) -> None:
        await self.http.aclose()
