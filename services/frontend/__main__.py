"""``python -m services.frontend``: serve the storefront on SHOP_HTTP_PORT (8080).

Settings: SHOP_GATEWAY_URL, SHOP_HTTP_PORT, SHOP_TENANT_HOSTS (host=tenant,...), SHOP_TENANT_HEADER,
SHOP_DEFAULT_TENANT, SHOP_SECURE_COOKIES (auto|true|false), SHOP_GATEWAY_TIMEOUT_S, SHOP_LOG_LEVEL.
"""

from __future__ import annotations

import sys

import uvicorn

from services.frontend.app import create_app
from services.frontend.observability import configure_logging
from services.frontend.settings import FrontendConfigError, FrontendSettings


def main() -> int:
    try:
        settings = FrontendSettings.from_env()
    except FrontendConfigError as exc:
        print(f"frontend: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            # X-Forwarded-Proto decides the Secure flag; the frontend reads it itself (SHOP_SECURE_COOKIES=auto).
            proxy_headers=False,
            timeout_graceful_shutdown=20,
            server_header=False,
        )
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
