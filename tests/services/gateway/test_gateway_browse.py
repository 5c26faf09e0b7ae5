"""Browse, search, detail, cart and checkout through the gateway against the real backends."""

from __future__ import annotations

import uuid

import httpx

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
        assert third.json()["type"].endswith("/idempotency-conflict")
        history = c.get("/v1/orders", headers=h).json()
        assert [o["id"] for o in history["items"]] == [order["id"]]
        assert c.get(f"/v1/orders/{order['id']}", headers=h).json()["id"] == order["id"]


def test_resubmitting_a_key_with_the_same_cart_refilled_replays_and_keeps_the_cart(
    gateway: GatewayServer, stack: Stack
) -> None:
    """A cart with lines goes to orders without reading the gateway's record: orders' rule answers the replay."""
    with gateway.client("shop-a") as c:
        h = {"Authorization": f"Bearer {register(c)['access_token']}"}
        pid = stack.product_ids["shop-a"][0]
        key = {"Idempotency-Key": "refill-" + uuid.uuid4().hex}
        c.post("/v1/cart/items", json={"product_id": pid, "quantity": 1}, headers=h)
        first = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, **key})
        assert first.status_code == 201, first.text
        assert c.get("/v1/cart", headers=h).json()["items"] == []
        c.post("/v1/cart/items", json={"product_id": pid, "quantity": 1}, headers=h)
        again = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers={**h, **key})
        assert again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        # The refilled cart is not the replayed order's: it stays for a checkout with a new key.
        assert [ln["product_id"] for ln in c.get("/v1/cart", headers=h).json()["items"]] == [pid]
        assert [o["id"] for o in c.get("/v1/orders", headers=h).json()["items"]] == [first.json()["id"]]


def test_checkout_with_items_in_the_body_leaves_the_cart_and_keeps_idempotency(
    gateway: GatewayServer, stack: Stack
) -> None:
    with gateway.client("shop-a") as c:
        h = {"Authorization": f"Bearer {register(c)['access_token']}"}
        first_pid, second_pid = stack.product_ids["shop-a"][:2]
        assert c.post("/v1/cart/items", json={"product_id": second_pid, "quantity": 1}, headers=h).status_code == 200
        # The same product twice is one line with the quantities added, as in the cart.
        lines = [{"product_id": first_pid, "quantity": 1}, {"product_id": first_pid.upper(), "quantity": 2}]
        body = {"shipping_address": ADDRESS, "items": lines}
        key = {"Idempotency-Key": "items-" + uuid.uuid4().hex}
        first = c.post("/v1/checkout", json=body, headers={**h, **key})
        assert first.status_code == 201, first.text
        assert [(i["product_id"], i["quantity"]) for i in first.json()["items"]] == [(first_pid, 3)]
        assert [ln["product_id"] for ln in c.get("/v1/cart", headers=h).json()["items"]] == [second_pid]
        # Same key, same lines (spelled as one): the same order.
        same = {"shipping_address": ADDRESS, "items": [{"product_id": first_pid, "quantity": 3}]}
        again = c.post("/v1/checkout", json=same, headers={**h, **key})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        other = {"shipping_address": ADDRESS, "items": [{"product_id": second_pid, "quantity": 1}]}
        assert c.post("/v1/checkout", json=other, headers={**h, **key}).status_code == 409
        bad = c.post("/v1/checkout", json={**body, "items": []}, headers={**h, "Idempotency-Key": "x" * 12})
        assert bad.status_code == 422
        assert bad.json()["field"].startswith("body.items")
        over = [{"product_id": first_pid, "quantity": 60}, {"product_id": first_pid, "quantity": 60}]
        r = c.post("/v1/checkout", json={**body, "items": over}, headers={**h, "Idempotency-Key": "y" * 12})
        assert r.status_code == 422
        assert r.json()["field"] == "body.items.1.quantity"


def test_cached_reads_fast_path_matches_the_route(gateway: GatewayServer, stack: Stack) -> None:
    """Plain list/detail reads are answered before FastAPI (fastpath.py); unusual ones by the route: same answers."""
    with gateway.client("shop-a") as c:
        plain = c.get("/v1/products", params={"limit": 3})
        assert plain.status_code == 200
        assert plain.headers["content-type"] == "application/json"
        assert plain.headers["x-cache"] in {"MISS", "HIT"}
        # "limit=03" is valid but not canonical: FastAPI serves it, from the same cache entry.
        routed = c.get("/v1/products?limit=03")
        assert routed.json() == plain.json()
        assert routed.headers["x-cache"] == "HIT"
        pid = plain.json()["items"][0]["id"]
        detail = c.get(f"/v1/products/{pid}")
        assert detail.status_code == 200
        assert c.get(f"/v1/products/{pid.upper()}").json() == detail.json()
        for query in ("limit=0", "limit=101", "limit=", "cursor=%24", "limit=2&limit=3"):
            r = c.get(f"/v1/products?{query}")
            if query == "limit=2&limit=3":
                assert r.status_code == 200  # FastAPI takes the last value
                assert len(r.json()["items"]) == 3
                continue
            assert r.status_code == 422, query
            assert r.headers["content-type"].startswith("application/problem+json")
        assert c.get("/v1/products", headers={"X-Tenant": "Not A Tenant"}).status_code == 422
        assert c.get("/v1/products", headers={"X-Tenant": "x" * 40}).status_code == 422
        metrics = c.get("/metrics").text
        assert 'route="/v1/products"' in metrics
        assert 'route="/v1/products/{product_id}"' in metrics


def test_checkout_refuses_unknown_products_and_mixed_currencies(gateway: GatewayServer, stack: Stack) -> None:
    # Orders makes these checks now (the gateway no longer asks catalog first); the answers are the gateway's own.
    admin = stack.admins["shop-b"]
    usd_pid = stack.product_ids["shop-b"][2]
    with gateway.client("shop-b") as c:
        admin_token = c.post("/v1/auth/sign-in", json=admin).json()["access_token"]
        eur = c.post(
            "/v1/admin/products",
            json={
                "sku": "EUR-" + uuid.uuid4().hex[:8],
                "name": "Euro mug",
                "price": {"amount_minor": 900, "currency": "EUR"},
                "initial_stock": 10,
            },
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert eur.status_code == 201, eur.text
        h = {"Authorization": f"Bearer {register(c)['access_token']}"}

        def checkout(lines: list[tuple[str, int]]) -> httpx.Response:
            items = [{"product_id": pid, "quantity": qty} for pid, qty in lines]
            key = {"Idempotency-Key": uuid.uuid4().hex}
            return c.post("/v1/checkout", json={"shipping_address": ADDRESS, "items": items}, headers={**h, **key})

        unknown = checkout([(usd_pid, 1), (str(uuid.uuid4()), 1)])
        assert unknown.status_code == 409, unknown.text
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert unknown.json()["type"].endswith("/conflict")
        assert unknown.json()["detail"] == "a product in the cart is no longer sold; remove it first"
        mixed = checkout([(usd_pid, 1), (eur.json()["id"], 1)])
        assert mixed.status_code == 422, mixed.text
        assert mixed.json()["field"] == "cart"
        assert mixed.json()["detail"] == "cart: holds products priced in different currencies"
        assert mixed.json()["errors"] == [{"field": "cart", "detail": "holds products priced in different currencies"}]
        # Nothing was ordered, and each currency alone still checks out.
        assert c.get("/v1/orders", headers=h).json()["items"] == []
        assert checkout([(eur.json()["id"], 1)]).status_code == 201
