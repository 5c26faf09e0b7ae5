"""``python -m services.gateway``: serve the gateway on SHOP_HTTP_PORT (8000) with uvicorn.

Settings (docs/conventions.md): SHOP_HTTP_PORT, SHOP_REDIS_URL, SHOP_REDIS_CLUSTER (a Redis cluster's endpoint,
default false), SHOP_CATALOG_ADDR, SHOP_USERS_ADDR, SHOP_ORDERS_ADDR, SHOP_SECRETS_DIR (redis-auth,
catalog-admin-token), SHOP_TENANT_HOSTS (host=tenant,...),
SHOP_TENANT_HEADER (accept X-Tenant, default true), SHOP_DEFAULT_TENANT, SHOP_TRUSTED_PROXY_HOPS,
SHOP_RATE_CLIENT_PER_S/_BURST, SHOP_RATE_TENANT_PER_S/_BURST, SHOP_RATE_LIMIT, SHOP_CACHE_TTL_S,
SHOP_CACHE_STALE_TTL_S, SHOP_REQUEST_TIMEOUT_S, SHOP_LOG_LEVEL, SHOP_OTEL_EXPORTER.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.common.logs import configure_logging
from services.common.settings import ConfigError
from services.common.tracing import setup_tracing
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

log = logging.getLogger("services.gateway")


def main() -> int:
    try:
        settings = GatewaySettings.from_env()
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging("gateway", settings.common.log_level)
    setup_tracing("gateway", settings.common.otel_exporter)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep the JSON root handler
        access_log=False,  # metrics and traces cover requests; access logs would double the log volume
        proxy_headers=False,  # client addresses come from SHOP_TRUSTED_PROXY_HOPS, not from uvicorn
        timeout_graceful_shutdown=20,
        server_header=False,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
