"""Frontend settings from ``SHOP_*`` environment variables (docs/conventions.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# The tenancy pattern of reference/architecture.yaml; the gateway validates again (the frontend's extra
# deliberately carries no YAML or gRPC dependencies).
TENANT_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class FrontendConfigError(RuntimeError):
    pass


def _hosts(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        host, sep, tenant = part.partition("=")
        if not sep or not TENANT_RE.fullmatch(tenant.strip()):
            raise FrontendConfigError(f"SHOP_TENANT_HOSTS entry {part!r} must be host=tenant")
        out[host.strip().lower()] = tenant.strip()
    return out


@dataclass(frozen=True)
class FrontendSettings:
    gateway_url: str = "http://127.0.0.1:8000"
    http_host: str = "0.0.0.0"  # noqa: S104 - the pod's port
    http_port: int = 8080
    tenant_hosts: dict[str, str] = field(default_factory=dict)
    allow_tenant_header: bool = True
    default_tenant: str | None = None
    secure_cookies: str = "auto"  # auto: Secure when the request came over TLS (X-Forwarded-Proto https)
    gateway_timeout_s: float = 8.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FrontendSettings:
        env = os.environ if env is None else env
        default = env.get("SHOP_DEFAULT_TENANT", "").strip() or None
        if default and not TENANT_RE.fullmatch(default):
            raise FrontendConfigError("SHOP_DEFAULT_TENANT is not a valid tenant id")
        secure = env.get("SHOP_SECURE_COOKIES", "auto").strip().lower() or "auto"
        if secure not in {"auto", "true", "false"}:
            raise FrontendConfigError("SHOP_SECURE_COOKIES must be auto, true or false")
        try:
            port = int(env.get("SHOP_HTTP_PORT", "8080") or 8080)
            timeout = float(env.get("SHOP_GATEWAY_TIMEOUT_S", "8") or 8)
        except ValueError as exc:
            raise FrontendConfigError(str(exc)) from None
        return cls(
            gateway_url=(env.get("SHOP_GATEWAY_URL") or "http://127.0.0.1:8000").rstrip("/"),
            http_host=env.get("SHOP_HTTP_HOST", "0.0.0.0") or "0.0.0.0",  # noqa: S104
            http_port=port,
            tenant_hosts=_hosts(env.get("SHOP_TENANT_HOSTS", "")),
            allow_tenant_header=env.get("SHOP_TENANT_HEADER", "true").strip().lower() in {"1", "true", "yes", "on"},
            default_tenant=default,
            secure_cookies=secure,
            gateway_timeout_s=timeout,
            log_level=(env.get("SHOP_LOG_LEVEL") or "INFO").upper(),
        )
