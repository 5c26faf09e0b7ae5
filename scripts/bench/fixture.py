"""Prepare the benchmark's own storefront through the public API, as a client would.

    python -m scripts.bench.fixture --gateway http://127.0.0.1:8001 --out .work/bench

* tenant ``bench`` (``shopctl tenant create``, no demo catalogue) so the benchmarks never spend the demo
  tenant's stock nor fill its order history;
* 20 products with a large stock (created / topped up by the tenant admin through ``/v1/admin/products``) so a page
  of the product list holds exactly 20 products, like the baseline, and checkouts never run out of stock;
* ``--shoppers`` registered users (register, else sign in) with fresh access tokens (they live 15 minutes).

Writes ``<out>/fixture.json`` (product ids, user ids), ``<out>/tokens.txt`` (one access token per line, for wrk)
and ``<out>/page.json`` (the gateway's product page, the baseline's payload).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TENANT = "bench"
ADMIN_EMAIL = "bench-admin@example.com"
PRODUCTS = 20
STOCK = 1_000_000  # the gateway accepts at most 1e6 initial units
STOCK_FLOOR = 200_000  # below this the admin tops a product up again


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"X-Tenant": TENANT, "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310 - our URL
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - 127.0.0.1 only
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise ApiError(exc.code, exc.read().decode(errors="replace")) from None
    return json.loads(raw) if raw else None


def password(out: Path) -> str:
    # Generated once and kept beside the results (0600): the tenant and its users outlive one run.
    path = out / "password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def sign_in_or_register(base: str, email: str, pw: str, register: bool) -> dict[str, Any]:
    try:
        result: dict[str, Any] = call(base, "POST", "/v1/auth/sign-in", {"email": email, "password": pw})
        return result
    except ApiError as exc:
        if exc.status != 401 or not register:
            raise
    created: dict[str, Any] = call(base, "POST", "/v1/auth/register", {"email": email, "password": pw})
    return created


def ensure_tenant(base: str, out: Path, pw: str, shopctl: str) -> str:
    try:
        return str(sign_in_or_register(base, ADMIN_EMAIL, pw, register=False)["access_token"])
    except ApiError as exc:
        if exc.status != 401:
            raise
    pw_file = out / "password"
    proc = subprocess.run(
        [
            shopctl,
            "tenant",
            "create",
            TENANT,
            "--admin-email",
            ADMIN_EMAIL,
            "--password-file",
            str(pw_file),
            "--display-name",
            "Benchmark storefront",
            "--no-demo-catalogue",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"shopctl tenant create {TENANT} failed (a tenant made with another password file?):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return str(sign_in_or_register(base, ADMIN_EMAIL, pw, register=False)["access_token"])


def ensure_products(base: str, admin: str) -> list[dict[str, Any]]:
    page = call(base, "GET", "/v1/products?limit=100")
    by_sku = {p["sku"]: p for p in page["items"]}
    for i in range(1, PRODUCTS + 1):
        sku = f"BENCH-{i:03d}"
        product = by_sku.get(sku)
        if product is None:
            by_sku[sku] = call(
                base,
                "POST",
                "/v1/admin/products",
                {
                    "sku": sku,
                    "name": f"Bench product {i}",
                    "description": "A product of the load benchmark's storefront, described in about one line.",
                    "price": {"amount_minor": 1000 + i, "currency": "USD"},
                    "category": "bench",
                    "initial_stock": STOCK,
                },
                token=admin,
            )
        elif product["stock_available"] < STOCK_FLOOR:
            by_sku[sku] = call(
                base,
                "POST",
                f"/v1/admin/products/{product['id']}/stock",
                {"delta": STOCK - product["stock_available"]},
                token=admin,
            )
    return [by_sku[f"BENCH-{i:03d}"] for i in range(1, PRODUCTS + 1)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="prepare the bench storefront through the gateway")
    p.add_argument("--gateway", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--shoppers", type=int, default=16)
    p.add_argument("--shopctl", default=os.environ.get("SHOPCTL", ".venv/bin/shopctl"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    pw = password(args.out)
    admin = ensure_tenant(args.gateway, args.out, pw, args.shopctl)
    products = ensure_products(args.gateway, admin)
    users = [
        sign_in_or_register(args.gateway, f"bench-shopper-{i}@example.com", pw, register=True)
        for i in range(args.shoppers)
    ]
    for u in users:
        # A cart left over from an interrupted run would make the first checkout bigger than the others.
        call(args.gateway, "DELETE", "/v1/cart", token=u["access_token"])
    (args.out / "tokens.txt").write_text("".join(u["access_token"] + "\n" for u in users))
    (args.out / "tokens.txt").chmod(0o600)
    fixture = {
        "tenant": TENANT,
        "product_ids": [pr["id"] for pr in products],
        "user_ids": [u["user"]["id"] for u in users],
    }
    (args.out / "fixture.json").write_text(json.dumps(fixture, indent=2) + "\n")
    # The baseline serves this very document; the query asks the gateway for the cached page being measured.
    page = call(args.gateway, "GET", "/v1/products?limit=20")
    if len(page["items"]) != PRODUCTS:
        raise SystemExit(f"expected {PRODUCTS} products on the bench page, got {len(page['items'])}")
    (args.out / "page.json").write_text(json.dumps(page))
    print(f"bench fixture: tenant {TENANT}, {len(products)} products, {len(users)} shoppers -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
