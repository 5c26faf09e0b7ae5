"""Onboard a tenant (a storefront) on the running local platform: users.CreateTenant plus an optional demo catalogue.

The platform admin tokens are the per-service `admin-token` secrets the runner generated; they never leave the
secrets folder and are never printed.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from services.runner import services as svc
from services.runner.config import RunnerConfig
from services.runner.platform import RunnerError
from services.runner.state import State


@dataclass(frozen=True)
class TenantCreated:
    tenant_id: str
    admin_user_id: str
    catalogue: str


def _admin_token(cfg: RunnerConfig, service: str) -> str:
    path = cfg.root / "secrets" / service / "admin-token"
    if not path.is_file():
        raise RunnerError(f"no admin token for {service} at {path}: is the platform up (shopctl up)?")
    return path.read_text().strip()


def create_tenant(
    cfg: RunnerConfig,
    tenant_id: str,
    display_name: str,
    admin_email: str,
    admin_password: str,
    demo_catalogue: bool = True,
) -> TenantCreated:
    """Create the tenant and its admin user in users; seed its demo catalogue in catalog when asked."""
    from services.common.tenancy import is_valid_tenant_id

    if not is_valid_tenant_id(tenant_id):
        raise RunnerError(f"tenant id {tenant_id!r}: expected lower-case letters, digits and hyphens (3-32 chars)")
    state = State.load(cfg.state_file)
    if state is None or "users" not in state.components:
        raise RunnerError("the users service is not running: start the platform with `shopctl up`")
    try:
        admin_user_id = svc.create_tenant(
            state.components["users"], tenant_id, display_name, admin_email, admin_password, _admin_token(cfg, "users")
        )
    except grpc.RpcError as exc:
        raise RunnerError(f"users refused the tenant: {exc.code().name}: {exc.details()}") from None
    catalogue = "no demo catalogue requested"
    if demo_catalogue and "catalog" in state.components:
        catalogue = svc.seed_demo_catalog(state.components["catalog"], tenant_id, _admin_token(cfg, "catalog"))
    return TenantCreated(tenant_id, admin_user_id, catalogue)
