"""Gateway settings from ``SHOP_*`` environment variables and secret files (docs/conventions.md).

Everything a test, the local runner or a load test needs to change is a setting: the backends' addresses, the
tenant host map, the rate limits and the cache lifetimes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common import tenancy
from services.common.settings import ConfigError, Secret, Settings


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _num(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_tenant_hosts(raw: str) -> dict[str, str]:
    """``shop-a.example.com=tenant-a,shop-b.example.com=tenant-b`` -> {host: tenant}."""
    hosts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        host, sep, tenant = part.partition("=")
        host, tenant = host.strip().lower(), tenant.strip()
        if not sep or not host or not tenancy.is_valid_tenant_id(tenant):
            raise ConfigError(f"SHOP_TENANT_HOSTS entry {part!r} must be host=tenant with a valid tenant id")
        hosts[host] = tenant
    return hosts


@dataclass(frozen=True, repr=False)
class GatewaySettings:
    common: Settings
    http_host: str = "0.0.0.0"  # noqa: S104 - the pod's port, reached through the Service
    http_port: int = 8000
    redis_url: str | None = None
    # The URL is a Redis cluster's (configuration) endpoint: EKS's ElastiCache runs with cluster mode enabled.
    redis_cluster: bool = False
    catalog_addr: str = "127.0.0.1:50051"
    users_addr: str = "127.0.0.1:50053"
    orders_addr: str = "127.0.0.1:50052"
    tenant_hosts: dict[str, str] = field(default_factory=dict)
    allow_tenant_header: bool = True
    default_tenant: str | None = None
    trusted_proxy_hops: int = 0
    request_timeout_s: float = 5.0
    read_timeout_s: float = 2.0
    write_timeout_s: float = 10.0
    cache_ttl_s: float = 30.0
    cache_stale_ttl_s: float = 86400.0
    cart_ttl_s: float = 30 * 86400.0
    rate_limit_enabled: bool = True
    client_rate_per_s: float = 20.0
    client_burst: float = 40.0
    tenant_rate_per_s: float = 500.0
    tenant_burst: float = 1000.0
    breaker_failures: int = 5
    breaker_reset_s: float = 5.0
    jwks_ttl_s: float = 300.0
    jwks_min_refresh_interval_s: float = 5.0
    watch_changes: bool = True
    secure_cookies_hint: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        common = Settings.from_env("gateway", env)
        port = int(_num(env, "SHOP_HTTP_PORT", 8000))
        default_tenant = env.get("SHOP_DEFAULT_TENANT", "").strip() or None
        if default_tenant and not tenancy.is_valid_tenant_id(default_tenant):
            raise ConfigError(f"SHOP_DEFAULT_TENANT must match {tenancy.TENANT_ID_PATTERN}")
        return cls(
            common=common,
            http_host=env.get("SHOP_HTTP_HOST", "0.0.0.0") or "0.0.0.0",  # noqa: S104
            http_port=port,
            redis_url=common.redis_url,
            redis_cluster=_bool(env, "SHOP_REDIS_CLUSTER", False),
            catalog_addr=common.catalog_addr or "127.0.0.1:50051",
            users_addr=common.users_addr or "127.0.0.1:50053",
            orders_addr=common.orders_addr or "127.0.0.1:50052",
            tenant_hosts=parse_tenant_hosts(env.get("SHOP_TENANT_HOSTS", "")),
            allow_tenant_header=_bool(env, "SHOP_TENANT_HEADER", True),
            default_tenant=default_tenant,
            trusted_proxy_hops=int(_num(env, "SHOP_TRUSTED_PROXY_HOPS", 0)),
            request_timeout_s=_num(env, "SHOP_REQUEST_TIMEOUT_S", 5.0, 0.1),
            read_timeout_s=_num(env, "SHOP_READ_TIMEOUT_S", 2.0, 0.05),
            write_timeout_s=_num(env, "SHOP_WRITE_TIMEOUT_S", 10.0, 0.1),
            cache_ttl_s=_num(env, "SHOP_CACHE_TTL_S", 30.0, 1.0),
            cache_stale_ttl_s=_num(env, "SHOP_CACHE_STALE_TTL_S", 86400.0, 1.0),
            rate_limit_enabled=_bool(env, "SHOP_RATE_LIMIT", True),
            client_rate_per_s=_num(env, "SHOP_RATE_CLIENT_PER_S", 20.0, 0.001),
            client_burst=_num(env, "SHOP_RATE_CLIENT_BURST", 40.0, 1.0),
            tenant_rate_per_s=_num(env, "SHOP_RATE_TENANT_PER_S", 500.0, 0.001),
            tenant_burst=_num(env, "SHOP_RATE_TENANT_BURST", 1000.0, 1.0),
            breaker_failures=int(_num(env, "SHOP_BREAKER_FAILURES", 5, 1)),
            breaker_reset_s=_num(env, "SHOP_BREAKER_RESET_S", 5.0, 0.05),
            jwks_ttl_s=_num(env, "SHOP_JWKS_TTL_S", 300.0, 1.0),
            watch_changes=_bool(env, "SHOP_WATCH_CHANGES", True),
        )

    def redis_password(self) -> Secret | None:
        # ElastiCache AUTH token (Secrets Manager eks-shop/<env>/gateway/redis-auth); locally the runner's secret.
        return self.common.secrets.get("redis-auth")

    def catalog_admin_token(self) -> Secret | None:
        # Lets an admin *of a tenant* (token role=admin) change that tenant's products through the gateway.
        return self.common.secrets.get("catalog-admin-token")

    def __repr__(self) -> str:
        return (
            f"GatewaySettings(http_port={self.http_port}, catalog={self.catalog_addr}, users={self.users_addr}, "
            f"orders={self.orders_addr}, tenant_hosts={self.tenant_hosts}, default_tenant={self.default_tenant})"
        )
