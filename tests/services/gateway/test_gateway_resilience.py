"""Caching and degradation: invalidation by catalog's events, catalog down, Redis down, recovery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from tests.services.gateway.stack import ADDRESS, GatewayServer, Stack, register
from tests.services.redis_server import RedisServer


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.1)


def test_cache_hit_then_invalidated_by_product_update(gateway: GatewayServer, stack: Stack) -> None:
    gateway.watching("shop-b")
    pid = stack.product_ids["shop-b"][0]
    with gateway.client("shop-b") as c:
        c.get(f"/v1/products/{pid}")
        hit = c.get(f"/v1/products/{pid}")
        assert hit.headers["x-cache"] == "HIT"
        new_name = f"Renamed {uuid.uuid4().hex[:6]}"
        # Changed directly in catalog (not through the gateway): only the change event can invalidate.
        stack.update_product("shop-b", pid, new_name)

        def updated() -> bool:
            return bool(c.get(f"/v1/products/{pid}").json()["name"] == new_name)

        _eventually(updated, 5)
        # The list pages of the tenant were dropped too.
        names = [p["name"] for p in c.get("/v1/products", params={"limit": 100}).json()["items"]]
        assert new_name in names
    # The other tenant's cache is untouched and never sees shop-b's data.
    with gateway.client("shop-a") as c:
        assert new_name not in c.get("/v1/products", params={"limit": 100}).text


def test_admin_update_through_gateway(gateway: GatewayServer, stack: Stack) -> None:
    admin = stack.admins["shop-a"]
    with gateway.client("shop-a") as c:
        token = c.post("/v1/auth/sign-in", json=admin).json()["access_token"]
        pid = stack.product_ids["shop-a"][5]
        c.get(f"/v1/products/{pid}")
        r = c.patch(
            f"/v1/admin/products/{pid}",
            json={"description": "Now even warmer."},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        assert c.get(f"/v1/products/{pid}").json()["description"] == "Now even warmer."
        customer = register(c)["access_token"]
        refused = c.patch(
            f"/v1/admin/products/{pid}", json={"description": "x"}, headers={"Authorization": f"Bearer {customer}"}
        )
        assert refused.status_code == 403


def test_catalog_down_serves_cached_pages_and_refuses_checkout(gateway: GatewayServer, stack: Stack) -> None:
    with gateway.client("shop-a") as c:
        token = register(c)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        listing = c.get("/v1/products", params={"limit": 3})
        assert listing.status_code == 200
        pid = listing.json()["items"][0]["id"]
        assert c.post("/v1/cart/items", json={"product_id": pid}, headers=auth).status_code == 200
        stack.catalog_switch.down()
        try:
            # Invalidate so only the stale copy can answer (as after a change event during the outage).
            gateway.run(gateway.app.state.gateway.cache.invalidate_tenant("shop-a"))
            cached = c.get("/v1/products", params={"limit": 3})
            assert cached.status_code == 200, cached.text
            assert cached.headers["x-cache"] == "STALE"
            assert cached.json() == listing.json()
            never_cached = c.get("/v1/products/search", params={"q": f"nothing-{uuid.uuid4().hex[:6]}"})
            assert never_cached.status_code == 503
            assert never_cached.headers["content-type"].startswith("application/problem+json")
            assert "catalog" in never_cached.json()["detail"]
            checkout = c.post(
                "/v1/checkout",
                json={"shipping_address": ADDRESS},
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert checkout.status_code == 503, checkout.text
            detail = checkout.json()["detail"]
            assert "checkout is temporarily unavailable" in detail
            assert "catalog" in detail
            assert "Traceback" not in checkout.text
            # The cart is still there.
            assert c.get("/v1/cart", headers=auth).json()["item_count"] == 1
            # Orders reports catalog's outage as UNAVAILABLE; that is not orders failing, so repeated checkouts
            # must not open the gateway's orders breaker (which would blame orders and refuse the order history).
            for _ in range(gateway.settings.breaker_failures + 1):
                again = c.post(
                    "/v1/checkout",
                    json={"shipping_address": ADDRESS},
                    headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                )
                assert again.status_code == 503, again.text
                assert again.json()["dependency"] == "catalog"
                assert "catalog" in again.json()["detail"]
            assert c.get("/v1/orders", headers=auth).status_code == 200
        finally:
            stack.catalog_switch.up()

        def recovered() -> bool:
            r = c.post(
                "/v1/checkout",
                json={"shipping_address": ADDRESS},
                headers={**auth, "Idempotency-Key": "after-outage-" + token[-16:].replace("-", "x")},
            )
            return r.status_code in (200, 201)

        _eventually(recovered, 15)


def test_redis_down_requests_still_served(stack: Stack, redis_server_factory: Callable[[], RedisServer]) -> None:
    redis = redis_server_factory()
    server = GatewayServer(stack.gateway_settings(redis_url=redis.url))
    try:
        with server.client("shop-a") as c:
            token = register(c)["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            assert c.get("/v1/products").headers["x-cache"] in {"MISS", "HIT"}
            redis.stop()
            for _ in range(3):
                r = c.get("/v1/products", params={"limit": 2})
                assert r.status_code == 200
                assert r.headers["x-cache"] == "BYPASS"
            pid = r.json()["items"][0]["id"]
            assert c.get(f"/v1/products/{pid}").status_code == 200
            assert c.get("/v1/products/search", params={"q": "mug"}).status_code == 200
            assert c.get("/v1/me", headers=auth).status_code == 200
            assert c.get("/v1/orders", headers=auth).status_code == 200
            cart = c.get("/v1/cart", headers=auth)
            assert cart.status_code == 503
            assert "cart" in cart.json()["detail"]
            assert c.get("/readyz").status_code == 200
            redis.start()

            def cached_again() -> bool:
                return c.get("/v1/products", params={"limit": 2}).headers["x-cache"] in {"MISS", "HIT"}

            _eventually(cached_again, 10)
            assert c.get("/v1/cart", headers=auth).status_code == 200
    finally:
        server.stop()


def test_health_readiness_metrics(gateway: GatewayServer) -> None:
    with gateway.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["dependencies"]["catalog"] is True
        metrics = c.get("/metrics").text
        assert "shop_http_requests_total" in metrics
        assert "shop_gateway_cache_total" in metrics


def test_redis_down_checkout_with_items_in_the_body(
    stack: Stack, redis_server_factory: Callable[[], RedisServer]
) -> None:
    """Without Redis (no cart, no gateway idempotency record) buying still works with the lines in the body;
    orders' own idempotency keeps "same key + same body -> same order, other body -> 409"."""
    redis = redis_server_factory()
    server = GatewayServer(stack.gateway_settings(redis_url=redis.url))
    try:
        with server.client("shop-a") as c:
            auth = {"Authorization": f"Bearer {register(c)['access_token']}"}
            first_pid, second_pid = stack.product_ids["shop-a"][:2]
            body = {"shipping_address": ADDRESS, "items": [{"product_id": first_pid, "quantity": 2}]}
            redis.stop()
            key = {"Idempotency-Key": "body-" + uuid.uuid4().hex}
            # The cart flow has nothing to order from.
            cart_flow = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**auth, **key})
            assert cart_flow.status_code == 503
            placed = c.post("/v1/checkout", json=body, headers={**auth, **key})
            assert placed.status_code == 201, placed.text
            order = placed.json()
            assert [(i["product_id"], i["quantity"]) for i in order["items"]] == [(first_pid, 2)]
            again = c.post("/v1/checkout", json=body, headers={**auth, **key})
            assert again.status_code == 200, again.text
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json()["id"] == order["id"]
            other = {**body, "items": [{"product_id": second_pid, "quantity": 1}]}
            conflict = c.post("/v1/checkout", json=other, headers={**auth, **key})
            assert conflict.status_code == 409, conflict.text
            assert conflict.json()["type"].endswith("/idempotency-conflict")
            assert [o["id"] for o in c.get("/v1/orders", headers=auth).json()["items"]] == [order["id"]]
    finally:
        server.stop()
