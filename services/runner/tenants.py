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
    from services.protos.gen.shop.users.v1 import users_pb2, users_pb2_grpc

    if not is_valid_tenant_id(tenant_id):
        raise RunnerError(f"tenant id {tenant_id!r}: expected lower-case letters, digits and hyphens (3-32 chars)")
    state = State.load(cfg.state_file)
    if state is None or "users" not in state.components:
        raise RunnerError("the users service is not running: start the platform with `shopctl up`")
    users = state.components["users"]
    with grpc.insecure_channel(users.url) as channel:
        stub = users_pb2_grpc.UsersServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            response = stub.CreateTenant(
                users_pb2.CreateTenantRequest(
                    tenant_id=tenant_id,
                    display_name=display_name,
                    admin_email=admin_email,
                    admin_password=admin_password,
                ),
                metadata=(("x-admin-token", _admin_token(cfg, "users")),),
                timeout=30,
            )
        except grpc.RpcError as exc:
            raise RunnerError(f"users refused the tenant: {exc.code().name}: {exc.details()}") from None
    catalogue = "no demo catalogue requested"
    if demo_catalogue and "catalog" in state.components:
        catalogue = svc.seed_demo_catalog(state.components["catalog"], tenant_id, _admin_token(cfg, "catalog"))
    return TenantCreated(tenant_id, response.admin_user.id, catalogue)
