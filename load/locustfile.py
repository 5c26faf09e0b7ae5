"""A shop's traffic mix against the gateway's REST API (see load/README.md for the commands).

Each simulated shopper registers once (a new account per user), then browses far more than it buys:
list/search/detail about 85 % of requests, cart about 10 %, checkout about 5 % (each with a new Idempotency-Key).

Settings (environment): LOAD_TENANT (default ``demo``), LOAD_WAIT_MIN_S / LOAD_WAIT_MAX_S (think time, default
0.5 / 2.0 s). The target must be a loopback address: this file refuses any other host.
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from locust import FastHttpUser, between, events, task
from locust.env import Environment

TENANT = os.environ.get("LOAD_TENANT", "demo")
LOOPBACK_NAMES = {"localhost"}
CART_LIMIT = 5  # lines kept in a cart before the cart task empties it: carts (and later orders) stay small
ADDRESS = {"name": "Load Test", "line1": "1 Test Street", "city": "Testville", "postal_code": "T1 1TT", "country": "GB"}


def _is_loopback(host: str | None) -> bool:
    hostname = urlsplit(host or "").hostname or ""
    if hostname in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@events.init.add_listener  # type: ignore[untyped-decorator]  # locust's EventHook is not annotated
def _refuse_remote_targets(environment: Environment, **_: Any) -> None:
    # A load test pointed at someone else's shop is an attack: only this machine's platform is a valid target.
    host = environment.host or getattr(environment.parsed_options, "host", None)
    if not _is_loopback(host):
        raise SystemExit(f"refusing to load {host!r}: only loopback targets (http://127.0.0.1:<port>) are allowed")


class Shopper(FastHttpUser):
    wait_time = between(
        float(os.environ.get("LOAD_WAIT_MIN_S", "0.5")), float(os.environ.get("LOAD_WAIT_MAX_S", "2.0"))
    )

    def on_start(self) -> None:
        # Each shopper looks like a separate client to the per-client rate limiter (the gateway trusts one proxy
        # hop, as behind the load balancer): without this every simulated user would share 127.0.0.1's bucket.
        # 198.18.0.0/15 is reserved for benchmarks (RFC 2544), so these addresses belong to nobody.
        n = random.randrange(1, 2**16)
        self.headers: dict[str, str] = {"X-Tenant": TENANT, "X-Forwarded-For": f"198.18.{n >> 8}.{n & 255}"}
        self.products: list[dict[str, Any]] = []
        self.words: list[str] = []
        email = f"load-{uuid.uuid4().hex[:16]}@example.com"
        # A throw-away password: the account only lives for this run and signs in once, by registering.
        password = secrets.token_urlsafe(16)
        with self.client.post(
            "/v1/auth/register",
            json={"email": email, "password": password},
            headers=self.headers,
            name="/v1/auth/register",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"register: {r.status_code} {r.text[:200]}")
                self.stop()  # a shopper without an account cannot buy; the failure is already counted
                return
            self.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self._load_catalogue()

    def _load_catalogue(self) -> None:
        cursor: str | None = None
        for _ in range(10):  # bounded: the demo catalogue is a few pages at most
            params = f"?limit=50&cursor={cursor}" if cursor else "?limit=50"
            r = self.client.get(f"/v1/products{params}", headers=self.headers, name="/v1/products?limit=50")
            if r.status_code != 200:
                return
            page = r.json()
            self.products.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        # One currency per cart: the gateway refuses a checkout mixing currencies (422), as a shop would. Keep the
        # catalogue's most common currency (the demo catalogue has one; an admin may have added others).
        currencies = Counter(p["price"]["currency"] for p in self.products)
        if currencies:
            main_currency = currencies.most_common(1)[0][0]
            self.products = [p for p in self.products if p["price"]["currency"] == main_currency]
        self.words = sorted({w.lower() for p in self.products for w in p["name"].split() if len(w) > 3})

    def _product(self, *, plenty: bool = False) -> dict[str, Any] | None:
        if not self.products:
            return None
        if plenty:
            # Checkouts buy the best-stocked product, so a long run does not just measure "out of stock".
            return max(self.products, key=lambda p: int(p["stock_available"]))
        return random.choice(self.products)

    # -- browsing: 85 % ---------------------------------------------------------------------------------

    @task(35)
    def list_products(self) -> None:
        r = self.client.get("/v1/products?limit=8", headers=self.headers, name="/v1/products")
        cursor = r.json().get("next_cursor") if r.status_code == 200 else None
        if cursor and random.random() < 0.3:
            self.client.get(f"/v1/products?limit=8&cursor={cursor}", headers=self.headers, name="/v1/products?cursor")

    @task(20)
    def search(self) -> None:
        q = random.choice(self.words) if self.words else "bag"
        self.client.get(f"/v1/products/search?q={q}&limit=8", headers=self.headers, name="/v1/products/search")

    @task(30)
    def product_detail(self) -> None:
        product = self._product()
        if product:
            self.client.get(f"/v1/products/{product['id']}", headers=self.headers, name="/v1/products/{id}")

    # -- cart: 10 % -------------------------------------------------------------------------------------

    @task(10)
    def cart(self) -> None:
        product = self._product()
        if not product:
            return
        self.client.post(
            "/v1/cart/items",
            json={"product_id": product["id"], "quantity": 1},
            headers=self.headers,
            name="/v1/cart/items",
        )
        r = self.client.get("/v1/cart", headers=self.headers, name="/v1/cart")
        if r.status_code == 200 and len(r.json()["items"]) > CART_LIMIT:
            self.client.delete("/v1/cart", headers=self.headers, name="/v1/cart [empty]")

    # -- checkout: 5 % ----------------------------------------------------------------------------------

    @task(5)
    def checkout(self) -> None:
        product = self._product(plenty=True)
        if not product:
            return
        self.client.post(
            "/v1/cart/items",
            json={"product_id": product["id"], "quantity": 1},
            headers=self.headers,
            name="/v1/cart/items",
        )
        # A new key per intended order: a retry of THIS order would reuse it, a new order never does.
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        started = time.perf_counter()
        with self.client.post(
            "/v1/checkout",
            json={"shipping_address": ADDRESS},
            headers=headers,
            name="/v1/checkout",
            catch_response=True,
        ) as r:
            if r.status_code == 201:
                r.success()
            elif r.status_code == 409 and "stock" in r.text:
                # The demo catalogue's stock is finite: selling out is the shop working, not failing. Counted on
                # its own line so a run that mostly sells out is visible in the summary.
                r.success()
                self.environment.events.request.fire(
                    request_type="POST",
                    name="/v1/checkout [out of stock]",
                    response_time=(time.perf_counter() - started) * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )
                self.client.delete("/v1/cart", headers=self.headers, name="/v1/cart [empty]")
            else:
                r.failure(f"checkout: {r.status_code} {r.text[:200]}")
