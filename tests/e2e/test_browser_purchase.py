"""A real browser buys a product end to end through the storefront (Playwright driving Debian's chromium).

Every step asserts on what a shopper sees and saves a screenshot to reports/screenshots/ (CI artefacts).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, Shop

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# Facts about this machine (docs DESIGN §5): no sandbox as root, no GPU, nothing that phones home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# A seeded demo product (services/catalog demo catalogue) that a search finds by one word.
PRODUCT = "Canvas Backpack"
SEARCH = "backpack"
ADDRESS = {
    "Full name": "Ada Lovelace",
    "Address line 1": "12 St James's Square",
    "City": "London",
    "Postal code": "SW1Y 4JH",
    "Country code (2 letters)": "GB",
}
TIMEOUT_MS = 20_000  # two shared cores: a page under load can take a few seconds

if not (CHROMIUM.exists() or shutil.which("chromium")):
    pytest.skip(
        "chromium is not installed: run `apt-get install -y chromium` (scripts/setup.sh installs it; CI has it)",
        allow_module_level=True,
    )
pytest.importorskip("playwright.sync_api", reason="playwright is not installed: `.venv/bin/pip install -e '.[dev]'`")

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    # Never `playwright install`: browsers cannot be downloaded here; Debian's chromium is the browser.
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_context(browser: Browser, shop: Shop, *, javascript: bool = True) -> BrowserContext:
    ctx = browser.new_context(
        base_url=shop.frontend_url, java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


class Shots:
    """Numbered screenshots of one scenario, so the CI artefact reads as a story."""

    def __init__(self, folder: Path, scenario: str) -> None:
        self.folder, self.scenario, self.n = folder, scenario, 0
        for old in folder.glob(f"{scenario}-*.png"):
            old.unlink()

    def __call__(self, page: Page, step: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.folder / f"{self.scenario}-{self.n:02d}-{step}.png"), full_page=True)


def orders_of(shop: Shop, token: str) -> list[dict[str, object]]:
    with shop.api(token) as api:
        r = api.get("/v1/orders", params={"limit": 100})
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


def fill_address(page: Page) -> None:
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)


def sign_in(page: Page, email: str) -> None:
    page.get_by_role("link", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Orders", exact=True)).to_be_visible()


def add_product_to_cart(page: Page, quantity: int = 1) -> None:
    page.goto(f"/?q={SEARCH}")
    page.get_by_role("link", name=PRODUCT, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PRODUCT)
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(page).to_have_url(re.compile(r"/cart$"))


def test_browse_search_buy_and_see_the_order(browser: Browser, shop: Shop, screenshots: Path) -> None:
    shot = Shots(screenshots, "purchase")
    ctx = new_context(browser, shop)
    page = ctx.new_page()
    try:
        # Catalogue: the seeded products with prices and add-to-cart buttons.
        page.goto("/")
        expect(page).to_have_title(re.compile("Catalogue"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Catalogue")
        cards = page.locator("li.product-card")
        expect(cards.first).to_be_visible()
        assert cards.count() >= 2
        expect(cards.first.locator(".price")).to_have_text(re.compile(r"^[A-Z]{3} \d[\d,]*\.\d{2}$"))
        shot(page, "catalogue")

        # Search from the header box.
        page.get_by_role("searchbox", name="Search products").fill(SEARCH)
        page.get_by_role("search").get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Results for “{SEARCH}”")
        expect(page.get_by_role("link", name=PRODUCT, exact=True)).to_be_visible()
        shot(page, "search")

        # Product page: name, description, price and stock.
        page.get_by_role("link", name=PRODUCT, exact=True).click()
        expect(page).to_have_url(re.compile(r"/products/[0-9a-f-]{36}$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(PRODUCT)
        price = page.locator("article.product .price").inner_text()
        expect(page.get_by_text(re.compile(r"^\d+ in stock$"))).to_be_visible()
        shot(page, "product")

        # Add two to the cart (as a guest).
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Add to cart", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=PRODUCT))
        expect(row.get_by_label("Quantity")).to_have_value("2")
        unit = int(re.sub(r"\D", "", price))
        expected_total = f"{price.split()[0]} {unit * 2 // 100:,}.{unit * 2 % 100:02d}"
        expect(page.locator("p.total")).to_have_text(f"Total: {expected_total}")
        shot(page, "cart")

        # Checkout needs an account: the shop sends us to sign in; we register instead.
        page.get_by_role("link", name="Checkout").click()
        expect(page).to_have_url(re.compile(r"/sign-in\?next=/checkout$"))
        page.get_by_role("link", name="Create an account").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
        email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Name (optional)").fill("Ada Lovelace")
        page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
        shot(page, "register")
        page.get_by_role("button", name="Register").click()

        # Back at checkout, signed in, with the guest cart carried over.
        expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
        expect(page.get_by_role("link", name="Orders", exact=True)).to_be_visible()
        summary = page.get_by_role("region", name="Order summary")
        expect(summary).to_contain_text(f"2 \N{MULTIPLICATION SIGN} {PRODUCT}")
        expect(summary).to_contain_text(expected_total)
        fill_address(page)
        shot(page, "checkout")
        page.get_by_role("button", name="Place order").click()

        # Confirmation: the order with its line and total.
        expect(page.get_by_role("status")).to_have_text("Thank you! Your order has been placed.")
        expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}\?placed=1$"))
        order_id = re.findall(r"/orders/([0-9a-f-]{36})", page.url)[0]
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id[:8]}")
        line = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=PRODUCT))
        expect(line).to_contain_text(expected_total)
        expect(page.get_by_text(re.compile(r"^Total: "))).to_have_text(f"Total: {expected_total}")
        shot(page, "confirmation")

        # History: the order is listed; the cart is empty.
        page.get_by_role("link", name="All orders").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your orders")
        expect(page.get_by_role("link", name=f"Order {order_id[:8]}")).to_be_visible()
        expect(page.get_by_role("listitem").filter(has_text=f"Order {order_id[:8]}")).to_contain_text(expected_total)
        shot(page, "history")
        page.get_by_role("link", name="Cart", exact=True).click()
        expect(page.get_by_text("Your cart is empty.")).to_be_visible()
        shot(page, "cart-empty")
    except Exception:
        shot(page, "FAILED")
        raise
    finally:
        ctx.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_double_click_on_place_order_places_one_order(
    browser: Browser, shop: Shop, screenshots: Path, javascript: bool
) -> None:
    # With JavaScript app.js swallows the second submit; without it the browser really sends the form twice and
    # the hidden Idempotency-Key must make the gateway place one order. A returning shopper signs in this time.
    email, token = shop.register("dblclick")
    shot = Shots(screenshots, f"double-click-{'js' if javascript else 'nojs'}")
    ctx = new_context(browser, shop, javascript=javascript)
    page = ctx.new_page()
    try:
        page.goto("/")
        sign_in(page, email)
        add_product_to_cart(page)
        page.get_by_role("link", name="Checkout").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
        fill_address(page)
        shot(page, "checkout")
        # The form as the browser would send it again (hidden Idempotency-Key and CSRF token included).
        form: dict[str, str | float | bool] = {
            str(field.get_attribute("name")): field.input_value()
            for field in page.locator("form.checkout input[name]").all()
        }
        page.get_by_role("button", name="Place order").dblclick()
        expect(page.get_by_role("status")).to_have_text("Thank you! Your order has been placed.")
        order_id = re.findall(r"/orders/([0-9a-f-]{36})", page.url)[0]
        shot(page, "confirmation")
        # Chromium folds two quick submits into one navigation, so the dblclick may send a single POST. Send the
        # second one for certain, from the same browser session (cookies shared): the answer is the SAME order.
        replay = page.request.post("/checkout", form=form, max_redirects=0)
        assert replay.status == 303, replay.text()
        assert f"/orders/{order_id}" in replay.headers["location"], replay.headers["location"]
        placed = orders_of(shop, token)
        assert len(placed) == 1, f"a double submit placed {len(placed)} orders: {[o['id'] for o in placed]}"
        page.goto("/orders")
        expect(page.locator("ul.orders > li")).to_have_count(1)
        shot(page, "history")
    except Exception:
        shot(page, "FAILED")
        raise
    finally:
        ctx.close()
