"""Storefront pages. Every page is complete HTML without JavaScript; app.js only prevents double clicks.

Sessions are cookies (all HttpOnly, SameSite=Lax, Secure behind TLS): ``shop_at``/``shop_rt`` hold the
gateway's access and refresh tokens, ``shop_sid`` the guest cart id, ``shop_csrf`` the CSRF token.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.frontend import csrf
from services.frontend.gateway_client import GatewayClient, GatewayDown, GatewayProblem
from services.frontend.observability import Metrics
from services.frontend.settings import TENANT_RE, FrontendSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
ACCESS, REFRESH, SESSION = "shop_at", "shop_rt", "shop_sid"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CURSOR_RE = re.compile(r"^[A-Za-z0-9_.=\-]{1,1024}$")
UNAVAILABLE = "The shop is temporarily unavailable. Please try again in a moment."


class PageError(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@dataclass
class Ctx:
    """One request's view of the visitor: tenant, tokens and the cookies to set on the way out."""

    request: Request
    tenant: str
    secure: bool
    access: str | None
    refresh: str | None
    session: str
    csrf_token: str
    set_cookies: dict[str, tuple[str, int]] = field(default_factory=dict)
    delete_cookies: set[str] = field(default_factory=set)

    @property
    def signed_in(self) -> bool:
        return bool(self.access)


def money(value: dict[str, Any] | None) -> str:
    if not value:
        return "—"
    amount = int(value.get("amount_minor", 0))
    return f"{value.get('currency', '')} {amount // 100:,}.{amount % 100:02d}"


def safe_next(value: str | None) -> str:
    # Only local paths: "//evil.example" or "https://..." would be an open redirect.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def create_app(settings: FrontendSettings) -> FastAPI:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = money
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.gateway = GatewayClient(settings.gateway_url, settings.gateway_timeout_s)
        try:
            yield
        finally:
            await app.state.gateway.close()

    app = FastAPI(title="eks-shop storefront", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def gw(request: Request) -> GatewayClient:
        client: GatewayClient = request.app.state.gateway
        return client

    def is_secure(request: Request) -> bool:
        if settings.secure_cookies != "auto":
            return settings.secure_cookies == "true"
        proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip().lower()
        return proto == "https"

    def tenant_of(request: Request) -> str:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
        tenant = settings.tenant_hosts.get(host)
        header = request.headers.get("x-tenant")
        if tenant is None and header and settings.allow_tenant_header and TENANT_RE.fullmatch(header):
            tenant = header
        tenant = tenant or settings.default_tenant
        if tenant is None:
            raise PageError(404, "Unknown shop", "There is no shop at this address.")
        return tenant

    def ctx_of(request: Request) -> Ctx:
        session = request.cookies.get(SESSION, "")
        ctx = Ctx(
            request=request,
            tenant=tenant_of(request),
            secure=is_secure(request),
            access=request.cookies.get(ACCESS) or None,
            refresh=request.cookies.get(REFRESH) or None,
            session=session if re.fullmatch(r"[A-Za-z0-9_\-]{16,128}", session) else secrets.token_urlsafe(24),
            csrf_token=csrf.token_for(request),
        )
        if ctx.session != session:
            ctx.set_cookies[SESSION] = (ctx.session, 30 * 86400)
        if request.cookies.get(csrf.COOKIE) != ctx.csrf_token:
            ctx.set_cookies[csrf.COOKIE] = (ctx.csrf_token, 86400)
        return ctx

    def finish(ctx: Ctx, response: Response) -> Response:
        for name in ctx.delete_cookies:
            response.delete_cookie(name, path="/", secure=ctx.secure, httponly=True, samesite="lax")
        for name, (value, max_age) in ctx.set_cookies.items():
            response.set_cookie(
                name, value, max_age=max_age, path="/", secure=ctx.secure, httponly=True, samesite="lax"
            )
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def headers(ctx: Ctx, *, auth: bool = True) -> dict[str, str]:
        client = ctx.request.client.host if ctx.request.client else ""
        prior = ctx.request.headers.get("x-forwarded-for")
        h = {
            "X-Tenant": ctx.tenant,
            "X-Session-Id": ctx.session,
            "X-Forwarded-For": f"{prior}, {client}" if prior else client,
        }
        if auth and ctx.access:
            h["Authorization"] = f"Bearer {ctx.access}"
        return h

    def store_tokens(ctx: Ctx, body: dict[str, Any]) -> None:
        ctx.access, ctx.refresh = body["access_token"], body["refresh_token"]
        ctx.set_cookies[ACCESS] = (body["access_token"], 3600)
        ctx.set_cookies[REFRESH] = (body["refresh_token"], 30 * 86400)

    def drop_tokens(ctx: Ctx) -> None:
        ctx.access = ctx.refresh = None
        ctx.delete_cookies |= {ACCESS, REFRESH}
        ctx.set_cookies.pop(ACCESS, None)
        ctx.set_cookies.pop(REFRESH, None)

    async def api(ctx: Ctx, method: str, path: str, **kwargs: Any) -> Any:
        """Call the gateway; an expired access token is refreshed once with the refresh token."""
        extra = kwargs.pop("extra_headers", {})
        try:
            response = await gw(ctx.request).call(method, path, headers={**headers(ctx), **extra}, **kwargs)
        except GatewayProblem as exc:
            if exc.status != 401 or not ctx.access:
                raise
            if not ctx.refresh:
                drop_tokens(ctx)
                raise
            try:
                fresh = await gw(ctx.request).call(
                    "POST", "/v1/auth/refresh", headers=headers(ctx, auth=False), json={"refresh_token": ctx.refresh}
                )
            except GatewayProblem:
                drop_tokens(ctx)
                raise exc from None
            store_tokens(ctx, fresh.json())
            response = await gw(ctx.request).call(method, path, headers={**headers(ctx), **extra}, **kwargs)
        except GatewayDown:
            metrics.gateway_error("unavailable")
            raise
        return response.json() if response.content else None

    def page(ctx: Ctx, name: str, status: int = 200, **values: Any) -> Response:
        values.update(ctx=ctx, csrf_field=csrf.FIELD, csrf_token=ctx.csrf_token, signed_in=ctx.signed_in)
        return finish(ctx, templates.TemplateResponse(ctx.request, name, values, status_code=status))

    def redirect(ctx: Ctx, url: str) -> Response:
        return finish(ctx, RedirectResponse(url, status_code=303))

    async def form_ctx(request: Request) -> tuple[Ctx, dict[str, str]]:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        ctx = ctx_of(request)
        if not csrf.valid(request, values.get(csrf.FIELD)):
            raise PageError(
                403,
                "Form expired",
                "This form has expired or did not come from this shop. Please go back, reload the page and try again.",
            )
        return ctx, values

    # -- middleware and error pages ----------------------------------------------------------------------

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        start = time.perf_counter()
        response: Response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.observe(route, request.method, response.status_code, time.perf_counter() - start)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        return response

    def error_page(request: Request, status: int, title: str, message: str) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"title": title, "message": message, "signed_in": False, "ctx": None},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    @app.exception_handler(GatewayDown)
    async def on_gateway_down(request: Request, exc: Exception) -> Response:
        return error_page(request, 503, "Temporarily unavailable", UNAVAILABLE)

    @app.exception_handler(PageError)
    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return error_page(request, exc.status, exc.title, exc.message)

    @app.exception_handler(GatewayProblem)
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayProblem)
        if exc.status == 401:
            response = RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)
            for name in (ACCESS, REFRESH):
                response.delete_cookie(name, path="/")
            return response
        titles = {404: "Not found", 429: "Too many requests", 403: "Not allowed"}
        return error_page(request, exc.status, titles.get(exc.status, "Request refused"), exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return error_page(
            request,
            exc.status_code,
            "Not found" if exc.status_code == 404 else "Request refused",
            "This page does not exist." if exc.status_code == 404 else "The request was refused.",
        )

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return error_page(request, 500, "Something went wrong", "Something went wrong on our side. Please try again.")

    # -- health ------------------------------------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        # Ready even when the gateway is down: this replica still serves the "temporarily unavailable" page,
        # which is better for shoppers than the load balancer's bare 503 when every replica is pulled.
        try:
            r = await gw(request).http.get("/healthz", timeout=1.0)
            gateway_ok = r.status_code == 200
        except Exception:
            gateway_ok = False
        return JSONResponse({"status": "ready", "gateway": gateway_ok})

    @app.get("/metrics")
    async def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    # -- catalogue ---------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def catalogue(request: Request, q: str = "", cursor: str = "", category: str = "") -> Response:
        ctx = ctx_of(request)
        q = q.strip()[:200]
        params: dict[str, Any] = {"limit": 8}
        if cursor and CURSOR_RE.fullmatch(cursor):
            params["cursor"] = cursor
        if q:
            params["q"] = q
            data = await api(ctx, "GET", "/v1/products/search", params=params)
        else:
            if category and len(category) <= 100:
                params["category"] = category
            data = await api(ctx, "GET", "/v1/products", params=params)
        return page(
            ctx, "catalogue.html", products=data["items"], next_cursor=data.get("next_cursor"), q=q, category=category
        )

    @app.get("/products/{product_id}", response_class=HTMLResponse)
    async def product(request: Request, product_id: str) -> Response:
        ctx = ctx_of(request)
        if not UUID_RE.fullmatch(product_id.lower()):
            raise PageError(404, "Not found", "There is no such product.")
        data = await api(ctx, "GET", f"/v1/products/{product_id}")
        return page(ctx, "product.html", product=data)

    # -- cart --------------------------------------------------------------------------------------------

    @app.get("/cart", response_class=HTMLResponse)
    async def cart(request: Request) -> Response:
        ctx = ctx_of(request)
        return page(ctx, "cart.html", cart=await api(ctx, "GET", "/v1/cart"))

    def quantity(raw: str | None) -> int:
        try:
            value = int(raw or "1")
        except ValueError:
            value = 0
        if not 1 <= value <= 99:
            raise PageError(422, "Invalid quantity", "Please choose a quantity between 1 and 99.")
        return value

    def product_id_of(values: dict[str, str]) -> str:
        pid = values.get("product_id", "").lower()
        if not UUID_RE.fullmatch(pid):
            raise PageError(422, "Invalid product", "That product does not exist.")
        return pid

    @app.post("/cart/add")
    async def cart_add(request: Request) -> Response:
        ctx, values = await form_ctx(request)
        body = {"product_id": product_id_of(values), "quantity": quantity(values.get("quantity"))}
        await api(ctx, "POST", "/v1/cart/items", json=body)
        return redirect(ctx, "/cart")

    @app.post("/cart/update")
    async def cart_update(request: Request) -> Response:
        ctx, values = await form_ctx(request)
        pid = product_id_of(values)
        await api(ctx, "PUT", f"/v1/cart/items/{pid}", json={"quantity": quantity(values.get("quantity"))})
        return redirect(ctx, "/cart")

    @app.post("/cart/remove")
    async def cart_remove(request: Request) -> Response:
        ctx, values = await form_ctx(request)
        await api(ctx, "DELETE", f"/v1/cart/items/{product_id_of(values)}")
        return redirect(ctx, "/cart")

    # -- checkout and orders -----------------------------------------------------------------------------

    ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")

    @app.get("/checkout", response_class=HTMLResponse)
    async def checkout_form(request: Request) -> Response:
        ctx = ctx_of(request)
        if not ctx.signed_in:
            return redirect(ctx, "/sign-in?next=/checkout")
        cart_data = await api(ctx, "GET", "/v1/cart")
        # A new key per rendering of the form: submitting this form twice places ONE order.
        return page(
            ctx,
            "checkout.html",
            cart=cart_data,
            idempotency_key=str(uuid.uuid4()),
            address={},
            error=None,
            field_error=None,
        )

    @app.post("/checkout")
    async def checkout(request: Request) -> Response:
        ctx, values = await form_ctx(request)
        if not ctx.signed_in:
            return redirect(ctx, "/sign-in?next=/checkout")
        key = values.get("idempotency_key", "")
        if not re.fullmatch(r"[A-Za-z0-9_.:\-]{8,128}", key):
            key = str(uuid.uuid4())
        address = {f: values.get(f, "").strip() for f in ADDRESS_FIELDS}
        address["country"] = address["country"].upper()
        try:
            order = await api(
                ctx, "POST", "/v1/checkout", json={"shipping_address": address}, extra_headers={"Idempotency-Key": key}
            )
        except (GatewayProblem, GatewayDown) as exc:
            if isinstance(exc, GatewayProblem) and exc.status == 401:
                raise
            try:
                cart_data = await api(ctx, "GET", "/v1/cart")
            except (GatewayProblem, GatewayDown):
                cart_data = {"items": [], "total": None, "item_count": 0}
            message = (
                exc.detail
                if isinstance(exc, GatewayProblem)
                else ("Checkout is temporarily unavailable: " + (exc.detail or UNAVAILABLE))
            )
            status = exc.status if isinstance(exc, GatewayProblem) else 503
            field = exc.field.rsplit(".", 1)[-1] if isinstance(exc, GatewayProblem) and exc.field else None
            # Same key on the re-rendered form: if the failed attempt did place the order, a retry returns it.
            return page(
                ctx,
                "checkout.html",
                status=status,
                cart=cart_data,
                idempotency_key=key,
                address=address,
                error=message,
                field_error=field,
            )
        return redirect(ctx, f"/orders/{order['id']}?placed=1")

    @app.get("/orders", response_class=HTMLResponse)
    async def orders(request: Request, cursor: str = "") -> Response:
        ctx = ctx_of(request)
        if not ctx.signed_in:
            return redirect(ctx, "/sign-in?next=/orders")
        params = {"limit": 20, **({"cursor": cursor} if cursor and CURSOR_RE.fullmatch(cursor) else {})}
        data = await api(ctx, "GET", "/v1/orders", params=params)
        return page(ctx, "orders.html", orders=data["items"], next_cursor=data.get("next_cursor"))

    @app.get("/orders/{order_id}", response_class=HTMLResponse)
    async def order(request: Request, order_id: str, placed: int = 0) -> Response:
        ctx = ctx_of(request)
        if not ctx.signed_in:
            return redirect(ctx, f"/sign-in?next=/orders/{order_id}")
        if not UUID_RE.fullmatch(order_id.lower()):
            raise PageError(404, "Not found", "There is no such order.")
        return page(ctx, "order.html", order=await api(ctx, "GET", f"/v1/orders/{order_id}"), placed=bool(placed))

    # -- accounts ----------------------------------------------------------------------------------------

    @app.get("/register", response_class=HTMLResponse)
    async def register_form(request: Request, next: str = "/") -> Response:
        return page(
            ctx_of(request),
            "register.html",
            next=safe_next(next),
            error=None,
            field_error=None,
            email="",
            display_name="",
        )

    @app.post("/register")
    async def register(request: Request, next: str = Form("/")) -> Response:
        ctx, values = await form_ctx(request)
        email, display = values.get("email", "").strip(), values.get("display_name", "").strip()
        body = {"email": email, "password": values.get("password", ""), "display_name": display}
        try:
            data = await api(ctx, "POST", "/v1/auth/register", json=body)
        except GatewayProblem as exc:
            field = exc.field.rsplit(".", 1)[-1] if exc.field else None
            message = "An account with this e-mail already exists." if exc.status == 409 else exc.detail
            return page(
                ctx,
                "register.html",
                status=exc.status,
                next=safe_next(next),
                error=message,
                field_error=field,
                email=email,
                display_name=display,
            )
        store_tokens(ctx, data)
        return redirect(ctx, safe_next(next))

    @app.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_form(request: Request, next: str = "/") -> Response:
        return page(ctx_of(request), "sign_in.html", next=safe_next(next), error=None, email="")

    @app.post("/sign-in")
    async def sign_in(request: Request, next: str = Form("/")) -> Response:
        ctx, values = await form_ctx(request)
        email = values.get("email", "").strip()
        try:
            data = await api(
                ctx, "POST", "/v1/auth/sign-in", json={"email": email, "password": values.get("password", "")}
            )
        except GatewayProblem as exc:
            message = exc.detail if exc.status == 429 else "The e-mail or password is not correct."
            return page(
                ctx,
                "sign_in.html",
                status=exc.status if exc.status == 429 else 401,
                next=safe_next(next),
                error=message,
                email=email,
            )
        store_tokens(ctx, data)
        return redirect(ctx, safe_next(next))

    @app.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        ctx, _ = await form_ctx(request)
        if ctx.refresh:
            # The cookies go anyway; an unrevoked refresh token expires on its own.
            with contextlib.suppress(GatewayProblem, GatewayDown):
                await api(ctx, "POST", "/v1/auth/sign-out", json={"refresh_token": ctx.refresh})
        drop_tokens(ctx)
        return redirect(ctx, "/")

    return app
