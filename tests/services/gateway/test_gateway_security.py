"""Tokens, tenants, rate limits and input validation at the gateway (real users service and Redis)."""

from __future__ import annotations

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.services.gateway.stack import ADDRESS, GatewayServer, Stack, register


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_bad_tokens_are_refused(gateway: GatewayServer) -> None:
    with gateway.client("shop-a") as c:
        good = register(c)["access_token"]
        assert c.get("/v1/me", headers=_bearer(good)).status_code == 200
        header = jwt.get_unverified_header(good)
        claims = jwt.decode(good, options={"verify_signature": False})
        now = int(time.time())
        forged = jwt.encode(
            {**claims, "role": "admin"},
            ec.generate_private_key(ec.SECP256R1()),
            algorithm="ES256",
            headers={"kid": header["kid"]},
        )
        none = jwt.encode({**claims}, None, algorithm="none", headers={"kid": header["kid"]})
        expired = jwt.encode(
            {**claims, "iat": now - 900, "exp": now - 60},
            ec.generate_private_key(ec.SECP256R1()),
            algorithm="ES256",
            headers={"kid": header["kid"]},
        )
        tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        for token in (forged, none, expired, tampered, "garbage"):
            r = c.get("/v1/me", headers=_bearer(token))
            assert r.status_code == 401, (token, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"] == "Bearer"
    # A genuine token of shop-a presented to shop-b.
    with gateway.client("shop-b") as other:
        r = other.get("/v1/me", headers=_bearer(good))
        assert r.status_code == 401
        assert "another storefront" in r.json()["detail"]
        assert other.get("/v1/orders", headers=_bearer(good)).status_code == 401


def test_a_user_cannot_read_another_users_order(gateway: GatewayServer, stack: Stack) -> None:
    with gateway.client("shop-a") as c:
        alice, bob = register(c)["access_token"], register(c)["access_token"]
        c.post("/v1/cart/items", json={"product_id": stack.product_ids["shop-a"][3]}, headers=_bearer(alice))
        order = c.post(
            "/v1/checkout",
            json={"shipping_address": ADDRESS},
            headers={**_bearer(alice), "Idempotency-Key": uuid.uuid4().hex},
        ).json()
        assert c.get(f"/v1/orders/{order['id']}", headers=_bearer(alice)).status_code == 200
        assert c.get(f"/v1/orders/{order['id']}", headers=_bearer(bob)).status_code == 404


def test_validation_errors_are_problem_json_naming_the_field(gateway: GatewayServer) -> None:
    with gateway.client("shop-a") as c:
        token = register(c)["access_token"]
        r = c.get("/v1/products", params={"limit": 1000})
        assert r.status_code == 422
        body = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert body["field"] == "query.limit"
        assert body["status"] == 422
        assert "type" in body
        assert "title" in body
        r = c.post("/v1/checkout", json={"shipping_address": ADDRESS}, headers=_bearer(token))
        assert r.status_code == 422
        assert r.json()["field"] == "header.Idempotency-Key"
        r = c.post(
            "/v1/checkout", json={"shipping_address": ADDRESS}, headers={**_bearer(token), "Idempotency-Key": "short"}
        )
        assert r.status_code == 422
        assert r.json()["field"] == "header.Idempotency-Key"
        r = c.post(
            "/v1/checkout",
            json={"shipping_address": {**ADDRESS, "country": "Britain"}},
            headers={**_bearer(token), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 422
        assert r.json()["field"] == "body.shipping_address.country"
        r = c.post(
            "/v1/checkout",
            json={"shipping_address": ADDRESS},
            headers={**_bearer(token), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 422
        assert r.json()["field"] == "cart"
        assert c.get("/v1/products/not-a-uuid").json()["field"] == "path.product_id"
        assert c.get("/v1/products", headers={"X-Tenant": "NOT_A_TENANT"}).status_code == 422
        assert c.get("/v1/cart").json()["field"] == "header.X-Session-Id"
        assert (
            c.post("/v1/auth/register", json={"email": "x@example.com", "password": "short"}).json()["field"]
            == "body.password"
        )
        r = c.get("/v1/nowhere")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
    with gateway.client(None) as c:
        r = c.get("/v1/products")
        assert r.status_code == 400
        assert "storefront" in r.json()["detail"]


def test_openapi_is_3_1_under_v1(gateway: GatewayServer) -> None:
    with gateway.client(None) as c:
        spec = c.get("/v1/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        assert "/v1/checkout" in spec["paths"]
        assert "/v1/products/{product_id}" in spec["paths"]


def _fresh_tenant() -> str:
    # Buckets live in the shared Redis across gateway instances: a fresh storefront id starts with full buckets.
    return f"rl-{uuid.uuid4().hex[:10]}"


def test_rate_limit_per_client(stack: Stack) -> None:
    server = GatewayServer(
        stack.gateway_settings(
            trusted_proxy_hops=1, client_rate_per_s=0.01, client_burst=5, tenant_rate_per_s=1000, tenant_burst=1000
        )
    )
    tenant = _fresh_tenant()
    try:
        with server.client(tenant) as c:
            codes = [
                c.get("/v1/products", params={"limit": 1}, headers={"X-Forwarded-For": "10.9.0.1"}).status_code
                for _ in range(7)
            ]
            assert codes == [200] * 5 + [429, 429]
            r = c.get("/v1/products", params={"limit": 1}, headers={"X-Forwarded-For": "10.9.0.1"})
            assert r.headers["content-type"].startswith("application/problem+json")
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["scope"] == "client"
            # Another client of the same storefront is not affected.
            assert c.get("/v1/products", headers={"X-Forwarded-For": "10.9.0.2"}).status_code == 200
    finally:
        server.stop()


def test_tenant_burst_does_not_starve_another_tenant(stack: Stack) -> None:
    server = GatewayServer(
        stack.gateway_settings(
            trusted_proxy_hops=1, client_rate_per_s=1000, client_burst=1000, tenant_rate_per_s=0.01, tenant_burst=10
        )
    )
    noisy, quiet = _fresh_tenant(), _fresh_tenant()
    try:
        with server.client(noisy) as a, server.client(quiet) as b:
            a_codes = [
                a.get("/v1/products", params={"limit": 1}, headers={"X-Forwarded-For": f"10.1.0.{i}"}).status_code
                for i in range(15)
            ]
            assert a_codes.count(200) == 10
            assert a_codes.count(429) == 5
            assert a.get("/v1/products", headers={"X-Forwarded-For": "10.1.1.1"}).json()["scope"] == "tenant"
            b_codes = [
                b.get("/v1/products", params={"limit": 1}, headers={"X-Forwarded-For": "10.2.0.1"}).status_code
                for _ in range(10)
            ]
            assert b_codes == [200] * 10
    finally:
        server.stop()


def test_trace_context_without_an_exporter(gateway: GatewayServer) -> None:
    """Nothing is recorded locally, yet every answer carries a trace id and a caller's trace id is kept."""
    caller_trace = "4bf92f3577b34da6a3ce929b0e0e4736"
    with gateway.client("shop-a") as c:
        own = c.get("/v1/products", params={"limit": 0})
        assert own.status_code == 422
        assert len(own.json()["trace_id"]) == 32
        assert own.json()["trace_id"] != "0" * 32
        joined = c.get(
            "/v1/products", params={"limit": 0}, headers={"traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"}
        )
        assert joined.json()["trace_id"] == caller_trace
