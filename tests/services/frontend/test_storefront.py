"""The storefront rendered against a running gateway: pages, accessibility basics, CSRF, cookies, checkout."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.services.frontend.conftest import FrontendServer
from tests.services.gateway.stack import Stack


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in page"
    return match.group(1)


def _register(c: httpx.Client) -> None:
    page = c.get("/register")
    token = _field(page.text, "csrf_token")
    r = c.post(
        "/register",
        data={
            "csrf_token": token,
            "email": f"f{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct-horse-battery",
            "display_name": "F",
            "next": "/",
        },
    )
    assert r.status_code == 303, r.text


def test_catalogue_is_accessible_html(frontend: FrontendServer, stack: Stack) -> None:
    with frontend.client() as c:
        r = c.get("/")
        assert r.status_code == 200
        html = r.text
        assert '<html lang="en">' in html
        assert '<main id="main"' in html
        assert "<nav" in html
        assert "<header" in html
        assert "Stoneware Coffee Mug" in html or "Canvas Backpack" in html
        assert all('alt="' in img for img in re.findall(r"<img[^>]*>", html))
        assert 'label for="q"' in html
        nxt = re.search(r'rel="next" href="([^"]+)"', html)
        assert nxt, "pagination link"
        assert c.get(nxt.group(1).replace("&amp;", "&")).status_code == 200
        search = c.get("/", params={"q": "backpack"})
        assert "Canvas Backpack" in search.text
        pid = stack.product_ids["shop-a"][0]
        product = c.get(f"/products/{pid}")
        assert product.status_code == 200
        assert 'label for="quantity"' in product.text
        assert c.get(f"/products/{uuid.uuid4()}").status_code == 404


def test_csrf_is_enforced(frontend: FrontendServer, stack: Stack) -> None:
    pid = stack.product_ids["shop-a"][1]
    with frontend.client() as c:
        c.get("/")
        refused = c.post("/cart/add", data={"product_id": pid, "quantity": "1"})
        assert refused.status_code == 403
        forged = c.post("/cart/add", data={"product_id": pid, "quantity": "1", "csrf_token": "x" * 43})
        assert forged.status_code == 403
        token = _field(c.get("/").text, "csrf_token")
        cross = c.post(
            "/cart/add",
            data={"product_id": pid, "quantity": "1", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        ok = c.post("/cart/add", data={"product_id": pid, "quantity": "1", "csrf_token": token})
        assert ok.status_code == 303
        assert "Update" in c.get("/cart").text


def test_cookie_flags(frontend: FrontendServer) -> None:
    with frontend.client() as c:
        r = c.get("/")
        cookies = r.headers.get_list("set-cookie")
        assert cookies
        assert all("HttpOnly" in v and "SameSite=lax" in v for v in cookies)
        assert not any("Secure" in v for v in cookies)
    with frontend.client(headers={"X-Forwarded-Proto": "https"}) as c:
        cookies = c.get("/").headers.get_list("set-cookie")
        assert cookies
        assert all("Secure" in v for v in cookies)


def test_checkout_double_submit_places_one_order(frontend: FrontendServer, stack: Stack) -> None:
    with frontend.client() as c:
        _register(c)
        token = _field(c.get("/").text, "csrf_token")
        pid = stack.product_ids["shop-a"][2]
        assert c.post("/cart/add", data={"product_id": pid, "quantity": "1", "csrf_token": token}).status_code == 303
        form = c.get("/checkout")
        assert form.status_code == 200, form.text
        key = _field(form.text, "idempotency_key")
        data = {
            "csrf_token": token,
            "idempotency_key": key,
            "name": "Ada",
            "line1": "1 Main St",
            "city": "London",
            "postal_code": "N1",
            "country": "gb",
        }
        first = c.post("/checkout", data=data)
        second = c.post("/checkout", data=data)
        assert first.status_code == second.status_code == 303, (first.text, second.text)
        assert first.headers["location"] == second.headers["location"]
        confirmation = c.get(first.headers["location"])
        assert "Your order has been placed" in confirmation.text
        orders = c.get("/orders").text
        assert orders.count('href="/orders/') == 1


def test_checkout_requires_sign_in(frontend: FrontendServer) -> None:
    with frontend.client() as c:
        r = c.get("/checkout")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/sign-in")
        page = c.get("/sign-in")
        token = _field(page.text, "csrf_token")
        bad = c.post("/sign-in", data={"csrf_token": token, "email": "nobody@example.com", "password": "wrong-pw-123"})
        assert bad.status_code == 401
        assert "not correct" in bad.text


def test_gateway_down_shows_clear_page(frontend_without_gateway: FrontendServer) -> None:
    with frontend_without_gateway.client() as c:
        r = c.get("/")
        assert r.status_code == 503
        assert "temporarily unavailable" in r.text
        assert "Traceback" not in r.text
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").json()["gateway"] is False
        assert "shop_http_requests_total" in c.get("/metrics").text
