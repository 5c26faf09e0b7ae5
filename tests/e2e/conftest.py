"""End-to-end fixtures: the whole local platform (five services and their stores) on free loopback ports.

The platform is brought up once per session by the runner under a temporary root and torn down afterwards. Free
ports only: developers keep `shopctl up` running on the conventional ports while the suite runs.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from services.runner import RunnerConfig, RunnerError, down, up
from services.runner.tenants import create_tenant

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "reports" / "screenshots"
COMPONENTS = ("postgres", "redis", "mongo", "aws", "catalog", "users", "orders", "gateway", "frontend")
PASSWORD = "correct-horse-battery"  # at least 10 characters (users service rule)


@dataclass(frozen=True)
class Shop:
    """Where the running platform listens, and for which tenant."""

    root: Path
    gateway_url: str
    frontend_url: str
    tenant: str
    admin_email: str

    def api(self, token: str | None = None) -> httpx.Client:
        """A gateway client for this shop's tenant, optionally signed in."""
        headers = {"X-Tenant": self.tenant}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.gateway_url, headers=headers, timeout=20)

    def onboard(self, tenant: str) -> Shop:
        """Another storefront on the same platform (own users, catalogue, carts and orders), seeded with the demo
        catalogue. Tests that write odd data (the fuzzer creates products in random currencies) use their own."""
        admin_email = f"admin@{tenant}.example.com"
        create_tenant(
            RunnerConfig(root=self.root), tenant, tenant.capitalize(), admin_email, PASSWORD, demo_catalogue=True
        )
        return replace(self, tenant=tenant, admin_email=admin_email)

    def sign_in(self, email: str) -> str:
        """An access token for an existing account."""
        with self.api() as client:
            r = client.post("/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def register(self, prefix: str = "e2e") -> tuple[str, str]:
        """A new shopper registered through the gateway: (email, access token)."""
        email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
        with self.api() as client:
            r = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": prefix})
        assert r.status_code == 201, r.text
        return email, str(r.json()["access_token"])


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    # pytest's tmp_path is 0700; PostgreSQL runs as the postgres user and must traverse the root (o+x).
    base = Path(tempfile.mkdtemp(prefix="shop-e2e-"))
    base.chmod(0o755)
    cfg = RunnerConfig(
        root=base / "platform",
        ports=dict.fromkeys(COMPONENTS, 0),
        # The runner's seeding fills catalog only; users must know the tenant too, or nobody can register.
        # create_tenant below does both (as the conformance suite's local target does).
        seed_demo=False,
        extra_env={
            # Fuzzing and load send hundreds of requests from one client: the limiter would answer 429 to most.
            "SHOP_RATE_LIMIT": "false",
            # Loopback only: the services' default bind address is the pod's 0.0.0.0.
            "SHOP_HTTP_HOST": "127.0.0.1",
        },
    )
    admin_email = f"admin@{cfg.demo_tenant}.example.com"
    try:
        platform = up(cfg)
    except RunnerError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"the local platform did not come up: {exc}")
    try:
        create_tenant(cfg, cfg.demo_tenant, "Demo", admin_email, PASSWORD, demo_catalogue=True)
        missing = [name for name in ("gateway", "frontend") if name not in platform.components]
        if missing:
            pytest.skip(f"services without an entry point, end-to-end tests need them: {missing}")
        yield Shop(
            root=cfg.root,
            gateway_url=platform.components["gateway"].url,
            frontend_url=platform.components["frontend"].url,
            tenant=cfg.demo_tenant,
            admin_email=admin_email,
        )
    finally:
        report = down(RunnerConfig(root=cfg.root))
        # Copy the service logs next to the screenshots before the root goes: they explain a red run in CI.
        logs = cfg.root / "logs"
        if logs.is_dir():
            shutil.copytree(logs, REPO / "reports" / "e2e-logs", dirs_exist_ok=True)
        shutil.rmtree(base, ignore_errors=True)
        if not report.clean:
            print(f"\nplatform teardown left processes or ports behind: {report.leftovers}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
