"""Steps about the running shop (target local): storefront, orders, caching, resilience, security, tenancy.

Every step reads the ``services`` source: ``facts.metadata["services"]`` is a :class:`~conformance.targets.local.Shop`
(where the gateway, the frontend and the gRPC services listen, the storefronts, a handle to stop and start one
component). Steps talk to the shop as its clients do: a browser over HTTP to the frontend (cookies, CSRF form
fields), an API client to the gateway (``X-Tenant``), the storefront's staff over gRPC where the shop has no HTTP
route (order status). The checks are plain functions of that evidence, so the engine tests run the same scenarios
against deliberately broken variants of the shop (tests/engine/test_application_requirements.py).

Each API client presents its own address in ``X-Forwarded-For`` as the frontend (the gateway's one trusted proxy
hop) does for a shopper: the gateway's per-client rate limit then applies per simulated client, as in production,
instead of counting the whole suite as one client.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_bdd import given, parsers, then, when

from conformance.checks import require_source
from conformance.facts import Facts
from conformance.outcomes import CheckError, NotObservable, RequirementFailed, Violation
from conformance.targets.local import SERVICES_SOURCE, Shop

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - the test shoppers' password, not a secret
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "London", "postal_code": "N1 9GU", "country": "GB"}
PROBLEM_JSON = "application/problem+json"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RECOVERY_S = 25.0  # how long a dependency that is back may take to be used again (breaker reset + reconnect)


# ------------------------------------------------------------------------------------------------ verdicts


def fail(summary: str, address: str, what: str, expected: Any, found: Any) -> NoReturn:
    raise RequirementFailed(summary, [Violation(address, what, expected, found)])


def expect(ok: bool, summary: str, address: str, what: str, expected: Any, found: Any) -> None:
    if not ok:
        fail(summary, address, what, expected, found)


def _show(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:200]}"


def expect_status(response: httpx.Response, wanted: int | tuple[int, ...], summary: str) -> None:
    allowed = (wanted,) if isinstance(wanted, int) else wanted
    where = f"{response.request.method} {response.request.url.path}"
    expect(response.status_code in allowed, summary, where, "status", " or ".join(map(str, allowed)), _show(response))


def expect_problem(response: httpx.Response, status: int, summary: str) -> dict[str, Any]:
    """An RFC 9457 problem of this status; returns its body."""
    expect_status(response, status, summary)
    where = f"{response.request.method} {response.request.url.path}"
    kind = response.headers.get("content-type", "")
    expect(kind.startswith(PROBLEM_JSON), summary, where, "content-type", PROBLEM_JSON, kind)
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------------------------------------ clients


def _client_address() -> str:
    return f"10.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"


class Api:
    """A client of the gateway's REST API for one storefront, as one end client (its own address)."""

    def __init__(self, shop: Shop, tenant: str, token: str | None = None) -> None:
        self.shop = shop
        self.tenant = tenant
        self.token = token
        self.http = httpx.Client(
            base_url=shop.gateway_url,
            headers={"X-Tenant": tenant, "X-Forwarded-For": _client_address()},
            timeout=20,
        )

    def as_user(self, token: str | None) -> Api:
        """Another client of the same storefront, authenticated with ``token``."""
        return Api(self.shop, self.tenant, token)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def json_of(self, method: str, path: str, wanted: int = 200, **kwargs: Any) -> Any:
        """A call that must succeed for the scenario to go on (its failure is the requirement's failure)."""
        response = self.request(method, path, **kwargs)
        expect_status(response, wanted, f"the shop did not answer {method} {path} as a working shop does")
        return response.json()


@dataclass
class Customer:
    email: str
    password: str = field(repr=False)
    token: str = field(repr=False)
    user_id: str


def register(api: Api) -> Customer:
    email = f"shopper-{uuid.uuid4().hex[:12]}@example.com"
    body = api.json_of(
        "POST", "/v1/auth/register", 201, json={"email": email, "password": PASSWORD, "display_name": "Shopper"}
    )
    return Customer(email, PASSWORD, body["access_token"], body["user"]["id"])


def sign_in(api: Api, email: str, password: str) -> str:
    body = api.json_of("POST", "/v1/auth/sign-in", json={"email": email, "password": password})
    return str(body["access_token"])


def admin_api(api: Api) -> Api:
    store = api.shop.storefront(api.tenant)
    return api.as_user(sign_in(api, store.admin_email, store.admin_password))


def all_products(api: Api) -> list[dict[str, Any]]:
    """Every product of the storefront through the API (following cursors)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        page = api.json_of("GET", "/v1/products", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items
    fail("the product list never ends", "GET /v1/products", "pages", "at most 50", "more")


def new_product(admin: Api, label: str, price_minor: int = 1999) -> dict[str, Any]:
    body = {
        "sku": f"{label[:20]}-{uuid.uuid4().hex[:10]}",
        "name": f"{label} {uuid.uuid4().hex[:8]}",
        "description": f"made for the {label} scenario",
        "price": {"amount_minor": price_minor, "currency": "USD"},
        "category": "conformance",
        "initial_stock": 50,
    }
    product: dict[str, Any] = admin.json_of("POST", "/v1/admin/products", 201, json=body)
    return product


def catalog_grpc(shop: Shop, tenant: str, method: str, request: Any) -> Any:
    """A read from catalog itself: the source of truth the storefront must agree with."""
    from services.protos.gen.shop.catalog.v1 import catalog_pb2_grpc

    with grpc.insecure_channel(shop.grpc["catalog"]) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)  # type: ignore[no-untyped-call]
        return getattr(stub, method)(request, metadata=(("x-tenant-id", tenant),), timeout=10)


class Browser:
    """A browser on the storefront: cookies, redirects, and forms submitted with the fields the page holds."""

    def __init__(self, shop: Shop, tenant: str) -> None:
        self.tenant = tenant
        self.http = httpx.Client(
            base_url=shop.frontend_url, headers={"X-Tenant": tenant}, timeout=20, follow_redirects=True
        )
        self.page = ""
        self.url = "/"

    def open(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        self.page, self.url = response.text, response.url.raw_path.decode()
        return response

    def form_fields(self, action: str) -> dict[str, str]:
        """The inputs of the page's first form posting to ``action`` (hidden ones included, as a browser sends)."""
        for match in re.finditer(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", self.page, re.S):
            if match.group(1) == action:
                fields = {}
                for tag in re.findall(r"<input[^>]*>", match.group(2)):
                    name = re.search(r'name="([^"]+)"', tag)
                    value = re.search(r'value="([^"]*)"', tag)
                    if name:
                        fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
                return fields
        fail("the page has no such form", f"frontend:{self.url}", "form action", action, "missing")

    def submit(self, action: str, values: dict[str, str] | None = None) -> httpx.Response:
        data = {**self.form_fields(action), **(values or {})}
        response = self.http.post(action, data=data)
        self.page, self.url = response.text, response.url.raw_path.decode()
        return response

    def post_raw(self, action: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(action, data=data)


def product_links(page: str) -> list[str]:
    return re.findall(rf'href="/products/({UUID_RE})"', page)


def next_link(page: str) -> str | None:
    match = re.search(r'<a rel="next" href="([^"]+)"', page)
    return html.unescape(match.group(1)) if match else None


def money(value: dict[str, Any]) -> str:
    """The frontend's rendering of a price (services/frontend/app.py money)."""
    amount = int(value["amount_minor"])
    return f"{value['currency']} {amount // 100:,}.{amount % 100:02d}"


# ------------------------------------------------------------------------------------------------ outages


_STOPPED: list[tuple[Shop, str]] = []


def stop(shop: Shop, name: str) -> None:
    if shop.control is None:
        raise NotObservable(f"this target cannot stop {name}")
    _STOPPED.append((shop, name))
    shop.control.stop(name)


def start(shop: Shop, name: str) -> None:
    assert shop.control is not None
    shop.control.start(name)
    with contextlib.suppress(ValueError):
        _STOPPED.remove((shop, name))


def restore_stopped() -> None:
    """Start whatever a failed scenario left stopped, so the next scenario meets a whole shop."""
    while _STOPPED:
        shop, name = _STOPPED.pop()
        with contextlib.suppress(Exception):
            assert shop.control is not None
            shop.control.start(name)


@pytest.fixture(autouse=True)
def _restore_components() -> Iterator[None]:
    yield
    restore_stopped()


def identities(shop: Shop, except_: str) -> dict[str, str]:
    assert shop.control is not None
    names = ("catalog", "users", "orders", "gateway", "frontend", "redis")
    return {n: shop.control.identity(n) for n in names if n != except_}


def eventually(probe: Callable[[], str | None], timeout: float = RECOVERY_S) -> str | None:
    """Poll ``probe`` (None = good, else what is still wrong) until it is good or time is up; the last problem."""
    deadline = time.monotonic() + timeout
    problem = probe()
    while problem is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        problem = probe()
    return problem


# ------------------------------------------------------------------------------------------------ scenario state


@dataclass
class Visit:
    """What one scenario did so far: its clients and what they saw."""

    shop: Shop
    tenant: str
    api: Api
    browser: Browser
    customer: Customer | None = None
    other: Api | None = None
    product: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    seen: dict[str, Any] = field(default_factory=dict)

    def customer_api(self) -> Api:
        if self.customer is None:
            self.customer = register(self.api)
        return self.api.as_user(self.customer.token)


def shop_of(facts: Facts) -> Shop:
    require_source(facts, SERVICES_SOURCE)
    shop = facts.metadata.get(SERVICES_SOURCE)
    if not isinstance(shop, Shop):
        raise CheckError(f"target {facts.target!r} produced the services source without a Shop description")
    return shop


@given(parsers.parse('the storefront "{tenant}" in a browser'), target_fixture="visit")
@given(parsers.parse('the storefront "{tenant}" through the API'), target_fixture="visit")
def storefront_visit(facts: Facts, tenant: str) -> Visit:
    shop = shop_of(facts)
    return Visit(shop, tenant, Api(shop, tenant), Browser(shop, tenant))


def some_product(visit: Visit) -> dict[str, Any]:
    """A product in stock, from the storefront's own list."""
    items = [p for p in all_products(visit.api) if p["stock_available"] > 5]
    expect(
        bool(items),
        "the storefront sells nothing in stock",
        f"{visit.tenant}:/v1/products",
        "products in stock",
        "at least one",
        0,
    )
    return items[len(items) // 2]


# ================================================================================================ storefront


@when("the shopper opens the catalogue")
def open_catalogue(visit: Visit) -> None:
    response = visit.browser.open("/")
    expect_status(response, 200, "the catalogue page does not open")


@then(parsers.parse("the first page lists at most {count:d} products with a link to the next page"))
def first_page(visit: Visit, count: int) -> None:
    links = list(dict.fromkeys(product_links(visit.browser.page)))
    expect(
        0 < len(links) <= count,
        "the first catalogue page is not one page of products",
        "frontend:/",
        "products on the page",
        f"1..{count}",
        len(links),
    )
    total = len(all_products(visit.api))
    if total > count:
        expect(
            next_link(visit.browser.page) is not None,
            "the catalogue has more products but no next page",
            "frontend:/",
            "next-page link",
            "present",
            "missing",
        )
    visit.seen["first_page"] = links


@then("following the next-page links lists every product of the storefront exactly once")
def every_product_once(visit: Visit) -> None:
    from services.protos.gen.shop.catalog.v1 import catalog_pb2

    listed: list[str] = list(dict.fromkeys(product_links(visit.browser.page)))
    link = next_link(visit.browser.page)
    for _ in range(60):
        if link is None:
            break
        expect_status(visit.browser.open(link), 200, "a next catalogue page does not open")
        listed += list(dict.fromkeys(product_links(visit.browser.page)))
        link = next_link(visit.browser.page)
    truth = catalog_grpc(visit.shop, visit.tenant, "ListProducts", catalog_pb2.ListProductsRequest(page_size=100))
    expected = {p.id for p in truth.products}
    duplicates = sorted({pid for pid in listed if listed.count(pid) > 1})
    violations = [Violation("frontend:/ (all pages)", "product listed twice", "once", pid) for pid in duplicates]
    violations += [
        Violation("frontend:/ (all pages)", "product", "listed", f"{pid} missing")
        for pid in sorted(expected - set(listed))
    ]
    violations += [
        Violation("frontend:/ (all pages)", "product", "of this storefront", f"{pid} unknown")
        for pid in sorted(set(listed) - expected)
    ]
    if violations:
        raise RequirementFailed("paging through the catalogue does not list each product once", violations)


@when("the shopper searches for the name of a product of the storefront")
def search_for_product(visit: Visit) -> None:
    visit.product = some_product(visit)
    expect_status(visit.browser.open(f"/?q={visit.product['name']}"), 200, "the search page does not open")


@then("the results include that product")
def results_include(visit: Visit) -> None:
    assert visit.product is not None
    found = product_links(visit.browser.page)
    expect(
        visit.product["id"] in found,
        "search does not find a product by its name",
        f"frontend:{visit.browser.url}",
        "results",
        visit.product["id"],
        found[:10],
    )


@then(parsers.parse('a search for words no product contains shows "{message}"'))
def search_finds_nothing(visit: Visit, message: str) -> None:
    response = visit.browser.open(f"/?q=zzqx{uuid.uuid4().hex[:8]}")
    expect_status(response, 200, "a search without results does not open")
    found = product_links(visit.browser.page)
    expect(
        not found and message in visit.browser.page,
        "a search for nonsense lists products",
        f"frontend:{visit.browser.url}",
        "results",
        message,
        found[:5] or "no message",
    )


@when("the shopper opens the page of a product")
def open_product(visit: Visit) -> None:
    visit.product = some_product(visit)
    expect_status(visit.browser.open(f"/products/{visit.product['id']}"), 200, "the product page does not open")


@then("the page shows the product's name, price and stock as the catalogue holds them")
def product_page_matches(visit: Visit) -> None:
    from services.protos.gen.shop.catalog.v1 import catalog_pb2

    assert visit.product is not None
    truth = catalog_grpc(
        visit.shop, visit.tenant, "GetProduct", catalog_pb2.GetProductRequest(product_id=visit.product["id"])
    )
    price = money({"amount_minor": truth.price.units_minor, "currency": truth.price.currency})
    page = html.unescape(visit.browser.page)
    where = f"frontend:/products/{truth.id}"
    violations = [
        Violation(where, what, value, "not on the page")
        for what, value in (
            ("name", f"<h1>{truth.name}</h1>"),
            ("price", price),
            ("stock", f"{truth.stock_available} in stock"),
        )
        if value not in page
    ]
    if violations:
        raise RequirementFailed("the product page does not show what the catalogue holds", violations)


@then("the page offers an add-to-cart form protected against cross-site requests")
def add_to_cart_form(visit: Visit) -> None:
    fields = visit.browser.form_fields("/cart/add")
    token = fields.get("csrf_token", "")
    expect(
        len(token) >= 20,
        "the add-to-cart form carries no CSRF token",
        f"frontend:{visit.browser.url}",
        "csrf_token",
        "a random token",
        token or "missing",
    )


@given("the shopper has registered an account")
def shopper_registers(visit: Visit) -> None:
    expect_status(visit.browser.open("/register"), 200, "the registration page does not open")
    email = f"buyer-{uuid.uuid4().hex[:12]}@example.com"
    response = visit.browser.submit("/register", {"email": email, "password": PASSWORD, "display_name": "Buyer"})
    expect_status(response, 200, "registration through the storefront fails")
    expect(
        "Sign out" in response.text or "sign-out" in response.text,
        "the shopper is not signed in after registering",
        "frontend:/register",
        "signed in",
        "yes",
        "no sign-out control on the page",
    )


@when("the shopper adds a product to the cart")
def shopper_adds(visit: Visit) -> None:
    visit.product = some_product(visit)
    expect_status(visit.browser.open(f"/products/{visit.product['id']}"), 200, "the product page does not open")
    response = visit.browser.submit("/cart/add", {"quantity": "2"})
    expect_status(response, 200, "adding to the cart fails")
    expect(
        visit.product["name"] in html.unescape(response.text),
        "the cart does not show the product added",
        "frontend:/cart",
        "cart line",
        visit.product["name"],
        "missing",
    )


@when("checks out with a shipping address")
def shopper_checks_out(visit: Visit) -> None:
    expect_status(visit.browser.open("/checkout"), 200, "the checkout page does not open")
    response = visit.browser.submit("/checkout", ADDRESS)
    expect_status(response, 200, "checkout through the storefront fails")
    match = re.search(rf"/orders/({UUID_RE})", visit.browser.url)
    expect(
        match is not None,
        "checkout does not lead to an order confirmation",
        "frontend:/checkout",
        "redirect",
        "/orders/<id>?placed=1",
        visit.browser.url,
    )
    assert match is not None
    visit.order = {"id": match.group(1)}


@then("the order confirmation shows the product and the total")
def confirmation(visit: Visit) -> None:
    assert visit.product is not None
    assert visit.order is not None
    page = html.unescape(visit.browser.page)
    total = money(
        {"amount_minor": visit.product["price"]["amount_minor"] * 2, "currency": visit.product["price"]["currency"]}
    )
    violations = [
        Violation(f"frontend:/orders/{visit.order['id']}", what, value, "not on the page")
        for what, value in (("product", visit.product["name"]), ("total", total))
        if value not in page
    ]
    if violations:
        raise RequirementFailed("the order confirmation is incomplete", violations)


@then("the order appears in the shopper's order history")
def in_history(visit: Visit) -> None:
    assert visit.order is not None
    expect_status(visit.browser.open("/orders"), 200, "the order history does not open")
    expect(
        f"/orders/{visit.order['id']}" in visit.browser.page,
        "the new order is not in the history",
        "frontend:/orders",
        "orders listed",
        visit.order["id"],
        "missing",
    )


@then("a form submitted without the page's CSRF token is refused")
def csrf_refused(visit: Visit) -> None:
    assert visit.product is not None
    response = visit.browser.post_raw("/cart/add", {"product_id": visit.product["id"], "quantity": "1"})
    expect_status(response, 403, "a form without its CSRF token is accepted")
    forged = visit.browser.post_raw(
        "/cart/add", {"product_id": visit.product["id"], "quantity": "1", "csrf_token": secrets.token_urlsafe(32)}
    )
    expect_status(forged, 403, "a form with a made-up CSRF token is accepted")


# ================================================================================================ orders


def checkout(api: Api, key: str, address: dict[str, str] | None = None) -> httpx.Response:
    return api.post("/v1/checkout", json={"shipping_address": address or ADDRESS}, headers={"Idempotency-Key": key})


def add_to_cart(api: Api, product_id: str, quantity: int = 1) -> None:
    api.json_of("POST", "/v1/cart/items", json={"product_id": product_id, "quantity": quantity})


@given("a signed-in customer with a product in the cart")
def customer_with_cart(visit: Visit) -> None:
    visit.product = some_product(visit)
    add_to_cart(visit.customer_api(), visit.product["id"])


def place_order(visit: Visit) -> dict[str, Any]:
    response = checkout(visit.customer_api(), uuid.uuid4().hex)
    expect_status(response, 201, "checkout does not place the order")
    order: dict[str, Any] = response.json()
    visit.order = order
    return order


@when("the customer checks out twice with the same Idempotency-Key")
def checkout_twice(visit: Visit) -> None:
    key = uuid.uuid4().hex
    api = visit.customer_api()
    visit.seen["answers"] = [checkout(api, key), checkout(api, key)]


@then("both answers name the same order, the second marked as a replay")
def same_order(visit: Visit) -> None:
    first, second = visit.seen["answers"]
    expect_status(first, 201, "the first checkout does not place an order")
    expect_status(second, (200, 201), "the repeated checkout is not answered with the order")
    expect(
        second.json().get("id") == first.json()["id"],
        "the same Idempotency-Key placed a second order",
        "POST /v1/checkout",
        "order id of the repeat",
        first.json()["id"],
        second.json().get("id"),
    )
    expect(
        second.status_code == 200 and second.headers.get("idempotent-replayed") == "true",
        "the repeat is not marked as a replay",
        "POST /v1/checkout",
        "200 + Idempotent-Replayed",
        "true",
        f"{second.status_code} {second.headers.get('idempotent-replayed')}",
    )
    visit.order = first.json()


@then("the customer's order history holds that order once")
def history_once(visit: Visit) -> None:
    assert visit.order is not None
    items = visit.customer_api().json_of("GET", "/v1/orders", params={"limit": 100})["items"]
    ids = [o["id"] for o in items]
    expect(
        ids.count(visit.order["id"]) == 1 and len(ids) == 1,
        "the history does not hold exactly that one order",
        "GET /v1/orders",
        "orders",
        [visit.order["id"]],
        ids,
    )


@given("the customer has checked out with an Idempotency-Key")
def checked_out_with_key(visit: Visit) -> None:
    visit.seen["key"] = uuid.uuid4().hex
    response = checkout(visit.customer_api(), visit.seen["key"])
    expect_status(response, 201, "checkout does not place the order")
    visit.order = response.json()


@when("the customer fills the cart again and checks out with the same Idempotency-Key")
def reuse_key(visit: Visit) -> None:
    api = visit.customer_api()
    others = [p for p in all_products(api) if visit.product and p["id"] != visit.product["id"]]
    add_to_cart(api, others[0]["id"], 2)
    visit.seen["reuse"] = checkout(api, visit.seen["key"])


@then("checkout answers 409 Conflict as problem+json")
def conflict(visit: Visit) -> None:
    expect_problem(visit.seen["reuse"], 409, "a reused Idempotency-Key with another cart is not a conflict")


@then("no second order is placed")
def no_second_order(visit: Visit) -> None:
    history_once(visit)


@when("the customer sends a price of its own with a cart item or at checkout")
def client_prices(visit: Visit) -> None:
    assert visit.product is not None
    api = visit.customer_api()
    visit.seen["priced"] = [
        api.post(
            "/v1/cart/items",
            json={"product_id": visit.product["id"], "quantity": 1, "price": {"amount_minor": 1, "currency": "USD"}},
        ),
        api.post(
            "/v1/checkout",
            json={"shipping_address": ADDRESS, "total": {"amount_minor": 1, "currency": "USD"}},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
    ]


@then("the request is refused with 422 naming the price field")
def price_refused(visit: Visit) -> None:
    for response, name in zip(visit.seen["priced"], ("body.price", "body.total"), strict=True):
        body = expect_problem(response, 422, "a client-chosen price is not refused")
        expect(
            body.get("field") == name,
            "the refusal does not name the price field",
            f"{response.request.method} {response.request.url.path}",
            "field",
            name,
            body.get("field"),
        )


@when("the customer checks out")
def customer_checks_out(visit: Visit) -> None:
    place_order(visit)


@then("every order line is charged the catalogue's unit price and the total is their sum")
def server_prices(visit: Visit) -> None:
    from services.protos.gen.shop.catalog.v1 import catalog_pb2

    assert visit.order is not None
    violations = []
    total = 0
    for line in visit.order["items"]:
        truth = catalog_grpc(
            visit.shop, visit.tenant, "GetProduct", catalog_pb2.GetProductRequest(product_id=line["product_id"])
        )
        if line["unit_price"]["amount_minor"] != truth.price.units_minor:
            violations.append(
                Violation(
                    f"order {visit.order['id']}",
                    f"unit price of {line['product_id']}",
                    truth.price.units_minor,
                    line["unit_price"]["amount_minor"],
                )
            )
        total += truth.price.units_minor * int(line["quantity"])
    if visit.order["total"]["amount_minor"] != total:
        violations.append(Violation(f"order {visit.order['id']}", "total", total, visit.order["total"]["amount_minor"]))
    if violations:
        raise RequirementFailed("the order is not priced from the catalogue", violations)


@given("the customer has placed an order")
def customer_placed(visit: Visit) -> None:
    place_order(visit)


def set_status(visit: Visit, as_admin: bool, status: str, version: int) -> tuple[str, dict[str, Any] | None]:
    """UpdateOrderStatus as the storefront's staff (or as the customer); ('OK', order) or (grpc code, None)."""
    from services.protos.gen.shop.orders.v1 import orders_pb2, orders_pb2_grpc

    assert visit.order is not None
    assert visit.customer is not None
    if as_admin:
        admin = admin_api(visit.api)
        who = admin.json_of("GET", "/v1/me")
        md = (("x-tenant-id", visit.tenant), ("x-user-id", who["user_id"]), ("x-user-role", "admin"))
    else:
        md = (("x-tenant-id", visit.tenant), ("x-user-id", visit.customer.user_id), ("x-user-role", "customer"))
    request = orders_pb2.UpdateOrderStatusRequest(
        order_id=visit.order["id"],
        expected_version=version,
        status=orders_pb2.OrderStatus.Value(status),
        actor="conformance",
        reason="conformance scenario",
    )
    with grpc.insecure_channel(visit.shop.grpc["orders"]) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            order = stub.UpdateOrderStatus(request, metadata=md, timeout=10)
        except grpc.RpcError as exc:
            return exc.code().name, None
    return "OK", {"status": orders_pb2.OrderStatus.Name(order.status), "version": order.version}


def current_order(visit: Visit) -> dict[str, Any]:
    assert visit.order is not None
    order: dict[str, Any] = visit.customer_api().json_of("GET", f"/v1/orders/{visit.order['id']}")
    return order


@then("the customer cannot change the order's status")
def customer_cannot(visit: Visit) -> None:
    code, _ = set_status(visit, False, "CONFIRMED", int(current_order(visit)["version"]))
    expect(
        code == "PERMISSION_DENIED",
        "a customer changed the status of an order",
        "orders.UpdateOrderStatus",
        "answer to the customer",
        "PERMISSION_DENIED",
        code,
    )


@then("the storefront's admin confirms the order and then ships it")
def admin_confirms_ships(visit: Visit) -> None:
    for status in ("CONFIRMED", "SHIPPED"):
        code, order = set_status(visit, True, status, int(current_order(visit)["version"]))
        expect(
            code == "OK" and order is not None and order["status"] == status,
            "the admin cannot move the order along its lifecycle",
            "orders.UpdateOrderStatus",
            f"-> {status}",
            "OK",
            code,
        )


@then("a shipped order cannot go back to confirmed or pending")
def invalid_transitions(visit: Visit) -> None:
    violations = []
    for status in ("CONFIRMED", "PENDING"):
        code, _ = set_status(visit, True, status, int(current_order(visit)["version"]))
        if code != "FAILED_PRECONDITION":
            violations.append(
                Violation("orders.UpdateOrderStatus", f"SHIPPED -> {status}", "FAILED_PRECONDITION", code)
            )
    fail_violations(violations, "an order moved off its lifecycle")


@then("a pending order cannot be shipped before it is confirmed")
def no_skipping(visit: Visit) -> None:
    code, _ = set_status(visit, True, "SHIPPED", int(current_order(visit)["version"]))
    expect(
        code == "FAILED_PRECONDITION",
        "a pending order was shipped without being confirmed",
        "orders.UpdateOrderStatus",
        "PENDING -> SHIPPED",
        "FAILED_PRECONDITION",
        code,
    )


@then(parsers.parse('the customer sees the order as "{status}"'))
def customer_sees_status(visit: Visit, status: str) -> None:
    found = current_order(visit)["status"]
    expect(
        str(found).lower() == status.lower(),
        "the customer does not see the order's status",
        "GET /v1/orders/{id}",
        "status",
        status,
        found,
    )


def fail_violations(violations: list[Violation], summary: str) -> None:
    if violations:
        raise RequirementFailed(summary, violations)


@when("another customer of the same storefront asks for that order")
def other_customer_asks(visit: Visit) -> None:
    assert visit.order is not None
    visit.other = visit.api.as_user(register(visit.api).token)
    visit.seen["theirs"] = visit.other.get(f"/v1/orders/{visit.order['id']}")
    visit.seen["missing"] = visit.other.get(f"/v1/orders/{uuid.uuid4()}")


@then("the answer is 404 Not Found, the same as for an order that does not exist")
def not_found_like_missing(visit: Visit) -> None:
    theirs, missing = visit.seen["theirs"], visit.seen["missing"]
    expect_problem(theirs, 404, "another customer's order can be read")
    # The same words as for a made-up id (ids aside): the refusal must not tell that the order exists.
    said = [re.sub(UUID_RE, "<id>", str(r.json().get("detail"))) for r in (theirs, missing)]
    expect(
        said[0] == said[1], "the refusal tells that the order exists", "GET /v1/orders/{id}", "detail", said[1], said[0]
    )


@then("the order is not in the other customer's history")
def not_in_other_history(visit: Visit) -> None:
    assert visit.other is not None
    assert visit.order is not None
    ids = [o["id"] for o in visit.other.json_of("GET", "/v1/orders")["items"]]
    expect(
        visit.order["id"] not in ids,
        "another customer's order is in a history",
        "GET /v1/orders",
        "orders",
        "only the customer's own",
        ids,
    )


# ------------------------------------------------------------------------------------------------ cancel


def catalog_stock(visit: Visit) -> int:
    """The product's available stock as catalog itself has it (no storefront cache in between)."""
    from services.protos.gen.shop.catalog.v1 import catalog_pb2

    assert visit.product is not None
    request = catalog_pb2.GetProductRequest(product_id=visit.product["id"])
    return int(catalog_grpc(visit.shop, visit.tenant, "GetProduct", request).stock_available)


def cancel_order(visit: Visit, as_admin: bool) -> str:
    """CancelOrder (the shop has no HTTP route for it) as the customer or the storefront's staff: 'OK' or the code."""
    from services.protos.gen.shop.orders.v1 import orders_pb2, orders_pb2_grpc

    assert visit.order is not None
    assert visit.customer is not None
    if as_admin:
        who = admin_api(visit.api).json_of("GET", "/v1/me")
        md = (("x-tenant-id", visit.tenant), ("x-user-id", who["user_id"]), ("x-user-role", "admin"))
    else:
        md = (("x-tenant-id", visit.tenant), ("x-user-id", visit.customer.user_id), ("x-user-role", "customer"))
    request = orders_pb2.CancelOrderRequest(
        order_id=visit.order["id"], expected_version=int(current_order(visit)["version"]), reason="conformance"
    )
    with grpc.insecure_channel(visit.shop.grpc["orders"]) as channel:
        stub = orders_pb2_grpc.OrdersServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            stub.CancelOrder(request, metadata=md, timeout=20)
        except grpc.RpcError as exc:
            return str(exc.code().name)
    return "OK"


@given(parsers.parse("the customer's cart holds {quantity:d} units of a product newly added by the storefront's admin"))
def cart_of_own_product(visit: Visit, quantity: int) -> None:
    # A product of the scenario's own: no other scenario's orders move its stock while this one counts it.
    visit.product = new_product(admin_api(visit.api), "cancel")
    api = visit.customer_api()
    expect_status(api.request("DELETE", "/v1/cart"), 204, "the cart cannot be emptied")
    add_to_cart(api, visit.product["id"], quantity)
    visit.seen["stock_before"] = catalog_stock(visit)


@given("the order's stock has been committed in the catalogue")
def order_stock_committed(visit: Visit) -> None:
    """What orders' batch does within ~100 ms of the answer, made sure of: the cancel then meets COMMITTED stock.

    The order's reservation in catalog has the order's id (orders' contract); CommitReservations is idempotent, so
    this only waits for, or does, the commit orders does anyway.
    """
    from services.protos.gen.shop.catalog.v1 import catalog_pb2

    assert visit.order is not None
    request = catalog_pb2.CommitReservationsRequest(reservation_ids=[visit.order["id"]])
    answer = catalog_grpc(visit.shop, visit.tenant, "CommitReservations", request)
    expect(
        list(answer.committed) == [visit.order["id"]],
        "the order's stock is not held in the catalogue",
        f"catalog reservation {visit.order['id']}",
        "committed",
        "COMMITTED",
        [f.detail for f in answer.failed] or "no answer",
    )


@when("the customer cancels the order")
def customer_cancels(visit: Visit) -> None:
    code = cancel_order(visit, as_admin=False)
    expect(code == "OK", "the customer cannot cancel a pending order", "orders.CancelOrder", "answer", "OK", code)


@then("the product's available stock is back where it was before the order, once")
def stock_back_once(visit: Visit) -> None:
    assert visit.product is not None
    before = visit.seen["stock_before"]
    where = f"catalog product {visit.product['id']}"

    def wrong() -> str | None:
        now = catalog_stock(visit)
        return None if now == before else str(now)

    # The cancel gives the stock back before it answers; should catalog have been slow, the orders sweep does it.
    found = eventually(wrong, timeout=15.0)
    expect(found is None, "a cancelled order did not give its stock back", where, "stock_available", before, found)
    time.sleep(1.0)  # anything that would give it back a second time (the batch commit, the sweep) has run by now
    found = wrong()
    expect(found is None, "a cancelled order's stock came back more than once", where, "stock_available", before, found)


@then("a second cancel is refused and gives nothing back twice")
def second_cancel_refused(visit: Visit) -> None:
    assert visit.product is not None
    code = cancel_order(visit, as_admin=True)
    expect(
        code == "FAILED_PRECONDITION",
        "a cancelled order can be cancelled again",
        "orders.CancelOrder",
        "CANCELLED -> CANCELLED",
        "FAILED_PRECONDITION",
        code,
    )
    found = catalog_stock(visit)
    expect(
        found == visit.seen["stock_before"],
        "a second cancel gave the stock back again",
        f"catalog product {visit.product['id']}",
        "stock_available",
        visit.seen["stock_before"],
        found,
    )


# ================================================================================================ caching


def cache_of(response: httpx.Response) -> str:
    return str(response.headers.get("x-cache", "none"))


@given("a product newly added by the storefront's admin")
def admin_adds_product(visit: Visit) -> None:
    visit.seen["admin"] = admin_api(visit.api)
    visit.product = new_product(visit.seen["admin"], "cache")


def reads_of(visit: Visit) -> dict[str, Callable[[], httpx.Response]]:
    """The cached reads that show the product: its page, a page of the list, a search for it."""
    assert visit.product is not None
    pid, words = visit.product["id"], visit.product["name"].split()[-1]
    return {
        "detail": lambda: visit.api.get(f"/v1/products/{pid}"),
        "list": lambda: visit.api.get("/v1/products", params={"limit": 100, "category": "conformance"}),
        "search": lambda: visit.api.get("/v1/products/search", params={"q": words}),
    }


def _read_pair(read: Callable[[], httpx.Response]) -> tuple[httpx.Response, httpx.Response]:
    """Two reads in a row. catalog's change events land asynchronously and rightly invalidate a fill (the new
    product's own, or a watch stream's RESYNC): a pair that saw one (MISS, MISS) is read again, at most 3 times.
    A cache that never stores stays red."""
    pair = (read(), read())
    for _ in range(2):
        if cache_of(pair[1]) == "HIT":
            break
        time.sleep(0.3)
        pair = (read(), read())
    return pair


@when("the product is read twice")
def read_twice(visit: Visit) -> None:
    visit.seen["twice"] = {name: _read_pair(read) for name, read in reads_of(visit).items()}


@then("the first read is a cache MISS and the repeated read a cache HIT with the same body")
def miss_then_hit(visit: Visit) -> None:
    violations = []
    for name, (first, second) in visit.seen["twice"].items():
        expect_status(first, 200, f"the {name} read fails")
        outcomes = (cache_of(first), cache_of(second))
        if outcomes[1] != "HIT" or outcomes[0] not in ("MISS", "HIT"):
            violations.append(Violation(f"gateway {name} read", "X-Cache", ("MISS", "HIT"), outcomes))
        elif first.content != second.content:
            violations.append(Violation(f"gateway {name} read", "body of the HIT", "the body of the MISS", "another"))
    fail_violations(violations, "a repeated read is not served from the cache")


@given("the product's page, its listing and a search for it are cached")
def cached_reads(visit: Visit) -> None:
    for name, read in reads_of(visit).items():
        second = _read_pair(read)[1]
        expect(
            cache_of(second) == "HIT",
            "a repeated read is not cached",
            f"gateway {name} read",
            "X-Cache",
            "HIT",
            cache_of(second),
        )


@when("the admin renames the product and changes its price")
def admin_renames(visit: Visit) -> None:
    assert visit.product is not None
    name = f"{visit.product['name']} renamed"
    price = {"amount_minor": visit.product["price"]["amount_minor"] + 100, "currency": "USD"}
    visit.seen["admin"].json_of(
        "PATCH", f"/v1/admin/products/{visit.product['id']}", json={"name": name, "price": price}
    )
    visit.seen["changed"] = {"name": name, "price": price}


@then("the next read of each shows the new name and price")
def reads_show_change(visit: Visit) -> None:
    assert visit.product is not None
    changed, violations = visit.seen["changed"], []
    for name, read in reads_of(visit).items():
        response = read()
        body = response.json()
        items = body.get("items", [body]) if isinstance(body, dict) else []
        mine = [p for p in items if p.get("id") == visit.product["id"]]
        shown = (mine[0]["name"], mine[0]["price"]) if mine else None
        if shown != (changed["name"], changed["price"]):
            violations.append(
                Violation(
                    f"gateway {name} read ({cache_of(response)})",
                    "name, price",
                    (changed["name"], changed["price"]),
                    shown,
                )
            )
    fail_violations(violations, "a product update is not seen by the next read")


# ================================================================================================ resilience


@given("the catalogue pages were read and their cached copies have since been invalidated")
def cached_then_invalidated(visit: Visit) -> None:
    assert visit.product is not None
    visit.seen["pages"] = ["/v1/products?limit=20", f"/v1/products/{visit.product['id']}"]
    for path in visit.seen["pages"]:
        visit.api.json_of("GET", path)
    visit.browser.open("/")  # the storefront's own first page (its page size) gets its outage copy too
    # An admin change bumps the storefront's cache generation: the fresh copies go, the outage copies stay.
    admin = admin_api(visit.api)
    some = all_products(visit.api)[-1]
    admin.json_of("PATCH", f"/v1/admin/products/{some['id']}", json={"description": f"touched {uuid.uuid4().hex}"})


@when(parsers.re(r"^(?:the )?(?P<component>[A-Za-z]+)(?: service)? stops$"))
def component_stops(visit: Visit, component: str) -> None:
    name = component.lower()
    visit.seen["stopped"] = name
    visit.seen["identities"] = identities(visit.shop, name)
    stop(visit.shop, name)


@when(parsers.re(r"^(?:the )?(?P<component>[A-Za-z]+)(?: service)? is back$"))
def component_back(visit: Visit, component: str) -> None:
    start(visit.shop, component.lower())


@then("the catalogue pages are still served from the cache, marked STALE")
def stale_pages(visit: Visit) -> None:
    violations = []
    for path in visit.seen["pages"]:
        response = visit.api.get(path)
        if response.status_code != 200 or cache_of(response) != "STALE":
            violations.append(
                Violation(f"GET {path}", "status, X-Cache", (200, "STALE"), (response.status_code, cache_of(response)))
            )
    fail_violations(violations, "with catalog down the cached pages are not served")


@then("the storefront still shows the catalogue")
def storefront_shows_catalogue(visit: Visit) -> None:
    response = visit.browser.open("/")
    expect(
        response.status_code == 200 and bool(product_links(response.text)),
        "the storefront does not show the catalogue",
        "frontend:/",
        "status, products",
        "200 with products",
        _show(response),
    )


@then(parsers.parse("checkout is refused with 503 and a message naming the {dependency} service"))
def checkout_refused(visit: Visit, dependency: str) -> None:
    response = checkout(visit.customer_api(), uuid.uuid4().hex)
    body = expect_problem(response, 503, f"with {dependency} down checkout is not refused cleanly")
    detail = str(body.get("detail", ""))
    expect(
        dependency in detail and "retry" in detail.lower(),
        "the refusal does not say what is down and what to do",
        "POST /v1/checkout",
        "detail",
        f"names {dependency}, says to retry",
        detail,
    )


def _fresh_read(visit: Visit) -> str | None:
    response = visit.api.get("/v1/products", params={"limit": 5})
    outcome = cache_of(response)
    return None if response.status_code == 200 and outcome in ("MISS", "HIT") else f"{response.status_code} {outcome}"


def _checkout_works(visit: Visit) -> str | None:
    api = visit.customer_api()
    assert visit.product is not None
    added = api.post("/v1/cart/items", json={"product_id": visit.product["id"], "quantity": 1})
    if added.status_code != 200:
        return f"cart {_show(added)}"
    response = checkout(api, uuid.uuid4().hex)
    return None if response.status_code == 201 else f"checkout {_show(response)}"


def expect_recovered(visit: Visit, what: str, probe: Callable[[], str | None]) -> None:
    problem = eventually(probe)
    expect(
        problem is None,
        f"{what} did not resume within {RECOVERY_S:.0f}s of the dependency's return",
        f"{visit.tenant}:gateway",
        what,
        "working again",
        problem,
    )


def expect_no_restarts(visit: Visit) -> None:
    now = identities(visit.shop, visit.seen["stopped"])
    changed = [
        Violation(f"local.{n}", "process", was, now.get(n))
        for n, was in visit.seen["identities"].items()
        if now.get(n) != was
    ]
    fail_violations(changed, "recovery needed another component to be restarted")


@then("fresh pages are served and checkout places the order, without restarting any other component")
def catalog_recovered(visit: Visit) -> None:
    expect_recovered(visit, "fresh catalogue reads", lambda: _fresh_read(visit))
    expect_recovered(visit, "checkout", lambda: _checkout_works(visit))
    expect_no_restarts(visit)


@then("catalogue reads are still served, bypassing the cache")
def reads_bypass(visit: Visit) -> None:
    assert visit.product is not None
    violations = []
    for path in ("/v1/products?limit=5", f"/v1/products/{visit.product['id']}", "/v1/products/search?q=a"):
        response = visit.api.get(path)
        if response.status_code != 200 or cache_of(response) != "BYPASS":
            violations.append(
                Violation(f"GET {path}", "status, X-Cache", (200, "BYPASS"), (response.status_code, cache_of(response)))
            )
    fail_violations(violations, "with Redis down catalogue reads are not served")


@then("the storefront still shows the catalogue and product pages")
def storefront_and_product(visit: Visit) -> None:
    assert visit.product is not None
    storefront_shows_catalogue(visit)
    response = visit.browser.open(f"/products/{visit.product['id']}")
    expect(
        response.status_code == 200 and visit.product["name"] in html.unescape(response.text),
        "the storefront does not show a product page",
        f"frontend:/products/{visit.product['id']}",
        "status",
        200,
        _show(response),
    )


@then("the cart answers 503 with a message that it is temporarily unavailable")
def cart_unavailable(visit: Visit) -> None:
    body = expect_problem(visit.customer_api().get("/v1/cart"), 503, "with Redis down the cart fails badly")
    expect(
        "temporarily unavailable" in str(body.get("detail")),
        "the cart's refusal is not clear",
        "GET /v1/cart",
        "detail",
        "temporarily unavailable",
        body.get("detail"),
    )


def _cached_again(visit: Visit) -> str | None:
    path = f"/v1/products?limit=7&category=c{uuid.uuid4().hex[:6]}"
    outcomes = (cache_of(visit.api.get(path)), cache_of(visit.api.get(path)))
    return None if outcomes == ("MISS", "HIT") else f"X-Cache {outcomes}"


def _cart_works(visit: Visit) -> str | None:
    assert visit.product is not None
    response = visit.customer_api().post("/v1/cart/items", json={"product_id": visit.product["id"]})
    return None if response.status_code == 200 else _show(response)


@then("reads are cached again and the cart works, without restarting any other component")
def redis_recovered(visit: Visit) -> None:
    expect_recovered(visit, "caching", lambda: _cached_again(visit))
    expect_recovered(visit, "the cart", lambda: _cart_works(visit))
    expect_no_restarts(visit)


@then("catalogue reads and the storefront still work")
def browsing_works(visit: Visit) -> None:
    assert visit.product is not None
    for path in ("/v1/products?limit=5", f"/v1/products/{visit.product['id']}", "/v1/products/search?q=a"):
        expect_status(visit.api.get(path), 200, "with orders down browsing fails")
    storefront_and_product(visit)


@then("the gateway stays ready")
def gateway_ready(visit: Visit) -> None:
    response = httpx.get(f"{visit.shop.gateway_url}/readyz", timeout=10)
    expect_status(response, 200, "an orders outage takes the gateway out of service")


@then("the order history answers 503 with a message naming the orders service")
def history_unavailable(visit: Visit) -> None:
    body = expect_problem(visit.customer_api().get("/v1/orders"), 503, "with orders down the history fails badly")
    expect(
        "orders" in str(body.get("detail")),
        "the history's refusal does not name what is down",
        "GET /v1/orders",
        "detail",
        "names the orders service",
        body.get("detail"),
    )


def _history_works(visit: Visit) -> str | None:
    response = visit.customer_api().get("/v1/orders")
    return None if response.status_code == 200 else _show(response)


@then("the order history and checkout work again, without restarting any other component")
def orders_recovered(visit: Visit) -> None:
    expect_recovered(visit, "the order history", lambda: _history_works(visit))
    expect_recovered(visit, "checkout", lambda: _checkout_works(visit))
    expect_no_restarts(visit)


# ================================================================================================ security


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bad_tokens(visit: Visit) -> dict[str, str]:
    """Tokens a gateway must refuse, built from a genuine one of this storefront."""
    assert visit.customer is not None
    good = visit.customer.token
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    now = int(time.time())
    other_key = ec.generate_private_key(ec.SECP256R1())
    tokens = {
        "signed with another key under the shop's key id": jwt.encode(
            claims, other_key, algorithm="ES256", headers={"kid": header["kid"]}
        ),
        'with "alg: none" and no signature': ".".join(
            (
                _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": header["kid"]}).encode()),
                _b64(json.dumps(claims).encode()),
                "",
            )
        ),
        "whose claims were changed after signing": ".".join(
            (good.split(".")[0], _b64(json.dumps({**claims, "role": "admin"}).encode()), good.split(".")[2])
        ),
    }
    if visit.shop.signing_key is not None:
        kid, key = visit.shop.signing_key()
        tokens["that expired a minute ago, though signed with the shop's own key"] = jwt.encode(
            {**claims, "iat": now - 960, "exp": now - 60}, key, algorithm="ES256", headers={"kid": kid}
        )
    return tokens


@given("a customer whose genuine access token is accepted")
def genuine_token(visit: Visit) -> None:
    expect_status(visit.customer_api().get("/v1/me"), 200, "a genuine token is refused")


@then(parsers.parse("a token {kind} is refused with 401 and a Bearer challenge"))
def token_refused(visit: Visit, kind: str) -> None:
    tokens = bad_tokens(visit)
    if kind not in tokens:
        raise NotObservable(f"this target cannot mint a token {kind}")
    violations = []
    for path in ("/v1/me", "/v1/orders"):
        response = visit.api.get(path, headers={"Authorization": f"Bearer {tokens[kind]}"})
        challenge = response.headers.get("www-authenticate")
        if response.status_code != 401 or challenge != "Bearer":
            violations.append(
                Violation(f"GET {path}", "status, WWW-Authenticate", (401, "Bearer"), (response.status_code, challenge))
            )
    fail_violations(violations, f"a token {kind} is accepted")


@when("one client sends requests as fast as it can")
def flood(visit: Visit) -> None:
    responses = []
    for _ in range(200):
        response = visit.api.get("/v1/products", params={"limit": 1})
        responses.append(response)
        if response.status_code == 429:
            break
    visit.seen["flood"] = responses
    visit.seen["bystander"] = visit.api.as_user(None).get("/v1/products", params={"limit": 1})


@then("it is answered 429 Too Many Requests with a Retry-After in seconds before 200 requests")
def limited(visit: Visit) -> None:
    last = visit.seen["flood"][-1]
    expect_problem(last, 429, f"{len(visit.seen['flood'])} requests of one client are never limited")
    retry = last.headers.get("retry-after", "")
    expect(
        retry.isdigit() and int(retry) >= 1,
        "the 429 does not say when to retry",
        "GET /v1/products",
        "Retry-After",
        "whole seconds >= 1",
        retry or "missing",
    )


@then("another client of the same storefront is still served meanwhile")
def bystander_served(visit: Visit) -> None:
    expect_status(visit.seen["bystander"], 200, "one client's flood denies service to another client")


def _parse_request(spec: str, visit: Visit) -> httpx.Response:
    """``METHOD /path?query [header:Name=value] [{json}]`` -> the response (sent as a signed-in customer)."""
    method, _, rest = spec.strip().partition(" ")
    path, _, rest = rest.strip().partition(" ")
    headers: dict[str, str] = {}
    while rest.startswith("header:"):
        item, _, rest = rest.partition(" ")
        hname, _, hvalue = item.removeprefix("header:").partition("=")
        headers[hname] = hvalue
        rest = rest.strip()
    body = json.loads(rest.replace("<product>", str(uuid.uuid4()))) if rest else None
    return visit.customer_api().request(method, path, headers=headers, json=body)


@then("each of these requests is refused with 4xx problem+json whose field names the input at fault:")
def refused_naming_field(visit: Visit, datatable: list[list[str]]) -> None:
    violations = []
    for spec, wanted in datatable[1:]:
        response = _parse_request(spec, visit)
        kind = response.headers.get("content-type", "")
        found = response.json().get("field") if kind.startswith(PROBLEM_JSON) else None
        if not (400 <= response.status_code < 500 and kind.startswith(PROBLEM_JSON) and found == wanted):
            violations.append(
                Violation(
                    spec,
                    "status, content-type, field",
                    (f"4xx {PROBLEM_JSON}", wanted),
                    (response.status_code, kind, found),
                )
            )
    fail_violations(violations, "invalid input is not refused as a problem naming the field")


def hostile_requests(visit: Visit) -> Iterator[tuple[str, httpx.Response]]:
    """Malformed requests of the kinds fuzzers and careless clients send."""
    api = visit.customer_api()
    pid = str(uuid.uuid4())
    bodies: list[tuple[str, str, bytes | str, str]] = [
        ("POST", "/v1/cart/items", b"{not json", "application/json"),
        ("POST", "/v1/cart/items", b"[]", "application/json"),
        ("POST", "/v1/cart/items", b"null", "application/json"),
        ("POST", "/v1/cart/items", json.dumps({"product_id": pid, "quantity": 10**30}), "application/json"),
        ("POST", "/v1/cart/items", json.dumps({"product_id": pid, "quantity": "1e400"}), "application/json"),
        ("POST", "/v1/cart/items", b"product_id=1", "application/x-www-form-urlencoded"),
        ("POST", "/v1/checkout", json.dumps({"shipping_address": {"name": "\x00" * 10}}), "application/json"),
        ("POST", "/v1/checkout", json.dumps({"shipping_address": [[[[[[[[[[]]]]]]]]]]}), "application/json"),
        ("POST", "/v1/auth/register", json.dumps({"email": "a@b.c" * 1000, "password": "x"}), "application/json"),
        ("POST", "/v1/auth/sign-in", "\udcff".encode("utf-8", "surrogatepass"), "application/json"),
        ("PATCH", f"/v1/admin/products/{pid}", json.dumps({"price": {"amount_minor": -1}}), "application/json"),
    ]
    for method, path, content, ctype in bodies:
        yield (
            f"{method} {path} {content[:40]!r}",
            api.request(method, path, content=content, headers={"Content-Type": ctype, "Idempotency-Key": "k" * 12}),
        )
    for path in (
        "/v1/products?limit=-1",
        "/v1/products?cursor=%00%ff",
        "/v1/products?cursor=" + "A" * 5000,
        "/v1/products/search?q=" + "%E2%80%AE" * 50,
        "/v1/products/..%2f..%2fetc%2fpasswd",
        "/v1/products/00000000-0000-0000-0000-000000000000",
        "/v1/orders/%27%20OR%201=1--",
        "/v1/products?limit=1&limit=2&category=%00",
    ):
        yield f"GET {path[:60]}", api.get(path)
    yield "GET with X-Tenant of 500 characters", api.get("/v1/products", headers={"X-Tenant": "a" * 500})
    yield "GET with a Bearer of 10 kB", api.get("/v1/me", headers={"Authorization": "Bearer " + "a" * 10000})
    yield "DELETE /v1/products", api.request("DELETE", "/v1/products")


@then("no malformed request is answered with a server error")
def no_5xx(visit: Visit) -> None:
    violations = [
        Violation(label, "status", "below 500", _show(response))
        for label, response in hostile_requests(visit)
        if response.status_code >= 500
    ]
    fail_violations(violations, "malformed input causes server errors")


# ================================================================================================ tenancy


@dataclass
class Pair:
    """Two storefronts side by side, each with a product only it sells."""

    shop: Shop
    visits: dict[str, Visit]
    own: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)

    def other(self, tenant: str) -> str:
        return next(t for t in self.visits if t != tenant)


@given(parsers.parse('the storefronts "{first}" and "{second}" side by side'), target_fixture="pair")
def side_by_side(facts: Facts, first: str, second: str) -> Pair:
    shop = shop_of(facts)
    return Pair(shop, {t: Visit(shop, t, Api(shop, t), Browser(shop, t)) for t in (first, second)})


@given("each storefront has a product that only it sells")
def own_products(pair: Pair) -> None:
    for tenant, visit in pair.visits.items():
        pair.own[tenant] = new_product(admin_api(visit.api), f"only-at-{tenant}")


def _visibility(visit: Visit, product: dict[str, Any]) -> dict[str, bool]:
    """Where ``product`` shows in this storefront: list, search, detail (API) and the product page."""
    word = product["name"].split()[-1]
    listed = any(p["id"] == product["id"] for p in all_products(visit.api))
    found = visit.api.get("/v1/products/search", params={"q": word})
    detail = visit.api.get(f"/v1/products/{product['id']}")
    page = visit.browser.open(f"/products/{product['id']}")
    return {
        "listed": listed,
        "found": found.status_code == 200 and any(p["id"] == product["id"] for p in found.json()["items"]),
        "shown by the API": detail.status_code == 200,
        "shown by the storefront": page.status_code == 200 and product["name"] in html.unescape(page.text),
    }


@then("each storefront lists, finds and shows its own product")
def own_visible(pair: Pair) -> None:
    violations = [
        Violation(f"{tenant}: {pair.own[tenant]['id']}", where, True, False)
        for tenant, visit in pair.visits.items()
        for where, seen in _visibility(visit, pair.own[tenant]).items()
        if not seen
    ]
    fail_violations(violations, "a storefront does not show its own product")


@then("neither lists, finds nor shows the other's product, through the API or the storefront pages")
def other_invisible(pair: Pair) -> None:
    violations = [
        Violation(f"{tenant}: product of {pair.other(tenant)}", where, False, True)
        for tenant, visit in pair.visits.items()
        for where, seen in _visibility(visit, pair.own[pair.other(tenant)]).items()
        if seen
    ]
    fail_violations(violations, "a storefront shows another storefront's product")


@given(parsers.parse('a customer of "{tenant}" who placed an order and has a product in the cart as a guest'))
def customer_of(pair: Pair, tenant: str) -> None:
    visit = pair.visits[tenant]
    visit.product = pair.own[tenant]
    place_after = visit.customer_api()
    add_to_cart(place_after, visit.product["id"])
    place_order(visit)
    session = secrets.token_urlsafe(24)
    guest = visit.api.json_of(
        "POST", "/v1/cart/items", json={"product_id": visit.product["id"]}, headers={"X-Session-Id": session}
    )
    expect(
        guest["item_count"] == 1,
        "a guest cart does not hold its product",
        f"{tenant}: POST /v1/cart/items",
        "item_count",
        1,
        guest["item_count"],
    )
    pair.seen.update(customer_tenant=tenant, session=session)


@then(parsers.parse('the customer\'s credentials do not sign in at "{tenant}"'))
def credentials_foreign(pair: Pair, tenant: str) -> None:
    home = pair.visits[pair.seen["customer_tenant"]]
    assert home.customer is not None
    response = pair.visits[tenant].api.post(
        "/v1/auth/sign-in", json={"email": home.customer.email, "password": home.customer.password}
    )
    expect_status(response, 401, f"a customer of {home.tenant} signs in at {tenant}")


@then(parsers.parse('the same guest session sees an empty cart at "{tenant}"'))
def cart_foreign(pair: Pair, tenant: str) -> None:
    cart = pair.visits[tenant].api.json_of("GET", "/v1/cart", headers={"X-Session-Id": pair.seen["session"]})
    expect(
        cart["item_count"] == 0,
        "a cart crosses storefronts",
        f"{tenant}: GET /v1/cart",
        "item_count",
        0,
        cart["item_count"],
    )


@then(parsers.parse('the order is not found at "{tenant}", not even by its admin'))
def order_foreign(pair: Pair, tenant: str) -> None:
    order = pair.visits[pair.seen["customer_tenant"]].order
    assert order is not None
    response = admin_api(pair.visits[tenant].api).get(f"/v1/orders/{order['id']}")
    expect_status(response, 404, f"an order is visible at {tenant}")


@then(parsers.parse('a customer token of "{home}" presented to "{foreign}" is refused with 401'))
def token_foreign(pair: Pair, home: str, foreign: str) -> None:
    token = pair.visits[home].customer_api().token
    for path in ("/v1/me", "/v1/orders", "/v1/cart"):
        response = pair.visits[foreign].api.as_user(token).get(path)
        expect_status(response, 401, f"a token of {home} is accepted by {foreign}")


@then(parsers.parse('the admin of "{home}" cannot change a product of "{foreign}"'))
def admin_foreign(pair: Pair, home: str, foreign: str) -> None:
    admin = admin_api(pair.visits[home].api)
    target = pair.own[foreign]
    patch = {"description": "changed by another storefront's admin"}
    at_foreign = (
        pair.visits[foreign].api.as_user(admin.token).request("PATCH", f"/v1/admin/products/{target['id']}", json=patch)
    )
    expect_status(at_foreign, 401, f"the admin token of {home} is accepted by {foreign}")
    at_home = admin.request("PATCH", f"/v1/admin/products/{target['id']}", json=patch)
    expect_status(at_home, 404, f"the admin of {home} reaches a product of {foreign}")


@given(parsers.parse("\"{tenant}\"'s product list and its own product's page are cached"))
def tenant_cached(pair: Pair, tenant: str) -> None:
    api, product = pair.visits[tenant].api, pair.own[tenant]
    for path in ("/v1/products?limit=50", f"/v1/products/{product['id']}"):
        api.get(path)
        response = api.get(path)
        expect(
            cache_of(response) == "HIT",
            "a repeated read is not cached",
            f"{tenant}: GET {path}",
            "X-Cache",
            "HIT",
            cache_of(response),
        )
    pair.seen["cached_list"] = api.get("/v1/products?limit=50").json()


@then(parsers.parse('"{foreign}" is served its own product list, not "{tenant}"\'s cached one'))
def list_not_crossed(pair: Pair, foreign: str, tenant: str) -> None:
    theirs = {p["id"] for p in pair.visits[foreign].api.json_of("GET", "/v1/products?limit=50")["items"]}
    ours = {p["id"] for p in pair.seen["cached_list"]["items"]}
    expect(
        not theirs & ours,
        "a cached list crossed storefronts",
        f"{foreign}: GET /v1/products",
        "products of",
        foreign,
        f"{len(theirs & ours)} products of {tenant}",
    )


@then(parsers.parse('"{tenant}"\'s product page is not found at "{foreign}"'))
def page_not_crossed(pair: Pair, tenant: str, foreign: str) -> None:
    response = pair.visits[foreign].api.get(f"/v1/products/{pair.own[tenant]['id']}")
    expect_status(response, 404, f"a cached product page of {tenant} is served at {foreign}")
