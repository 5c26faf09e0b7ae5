"""Browse, search, detail, cart and checkout through the gateway against the real backends."""

from __future__ import annotations

import uuid

from tests.services.gateway.stack import ADDRESS, GatewayServer, Stack, register


def test_list_paginates_with_cursor_and_caches(gateway: GatewayServer, stack: Stack) -> None:
    gateway.watching("shop-a")
    with gateway.client("shop-a") as c:
        first = c.get("/v1/products", params={"limit": 5})
        assert first.status_code == 200, first.text
        body = first.json()
        assert len(body["items"]) == 5
        assert body["next_cursor"]
        assert first.headers["x-cache"] in {"MISS", "HIT"}
        again = c.get("/v1/products", params={"limit": 5})
        assert again.headers["x-cache"] == "HIT"
        assert again.json() == body
        seen = [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        while cursor:
            page = c.get("/v1/products", params={"limit": 5, "cursor": cursor}).json()
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
        assert sorted(seen) == sorted(stack.product_ids["shop-a"])


def test_search_and_detail(gateway: GatewayServer) -> None:
    with gateway.client("shop-a") as c:
        r = c.get("/v1/products/search", params={"q": "mug"})
        assert r.status_code == 200
        names = [p["name"] for p in r.json()["items"]]
        assert names
        assert all("Mug" in n for n in names)
        pid = r.json()["items"][0]["id"]
        d = c.get(f"/v1/products/{pid}")
        assert d.status_code == 200
        assert d.json()["price"]["currency"] == "USD"
        assert c.get(f"/v1/products/{uuid.uuid4()}").status_code == 404


def test_cart_and_checkout_idempotency(gateway: GatewayServer, stack: Stack) -> None:
    with gateway.client("shop-a") as c:
        auth = register(c)
        h = {"Authorization": f"Bearer {auth['access_token']}"}
        pid = stack.product_ids["shop-a"][0]
        r = c.post("/v1/cart/items", json={"product_id": pid, "quantity": 2}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["item_count"] == 2
        key = "checkout-" + uuid.uuid4().hex
        first = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, "Idempotency-Key": key})
        assert first.status_code == 201, first.text
        order = first.json()
        assert order["status"] in {"PENDING", "CONFIRMED"}
        assert order["items"][0]["quantity"] == 2
        second = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, "Idempotency-Key": key})
        assert second.status_code == 200, second.text
        assert second.json()["id"] == order["id"]
        # Same key, different cart -> 409.
        c.post("/v1/cart/items", json={"product_id": stack.product_ids["shop-a"][1], "quantity": 1}, headers=h)
        third = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, "Idempotency-Key": key})
        assert third.status_code == 409, third.text
        assert third.headers["content-type"].startswith("application/problem+json")
        history = c.get("/v1/orders", headers=h).json()
        assert [o["id"] for o in history["items"]] == [order["id"]]
        assert c.get(f"/v1/orders/{order['id']}", headers=h).json()["id"] == order["id"]
