"""``python -m services.users`` serves; ``... migrate`` provisions the database and the application role.

Serve reads SHOP_GRPC_PORT (50053), SHOP_HTTP_PORT (/metrics, 9090), SHOP_DATABASE_URL (application role),
SHOP_SECRETS_DIR with ``jwt-keys`` (required: encrypts the signing keys at rest) and ``admin-token`` (enables
CreateTenant), SHOP_LOG_LEVEL, SHOP_OTEL_EXPORTER.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from services.common.logs import configure_logging
from services.common.settings import ConfigError, Settings
from services.common.tracing import setup_tracing

log = logging.getLogger("services.users")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.users")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gRPC server (default)")
    mig = sub.add_parser("migrate", help="create the database if missing, apply migrations, create the app role")
    mig.add_argument(
        "--admin-url",
        default=os.environ.get("SHOP_DATABASE_ADMIN_URL"),
        help="owner/admin connection URL (default: $SHOP_DATABASE_ADMIN_URL)",
    )
    mig.add_argument("--app-role", default="users_app", help="the role the service connects as")
    mig.add_argument("--app-password-file", help="file holding the app role's password (LOGIN)")
    args = parser.parse_args(argv)

    settings = Settings.from_env("users")
    configure_logging("users", settings.log_level)
    try:
        if args.command == "migrate":
            from services.common.pg_migrate import provision
            from services.users.app import MIGRATIONS

            if not args.admin_url:
                raise ConfigError("migrate needs --admin-url or SHOP_DATABASE_ADMIN_URL")
            password = None
            if args.app_password_file:
                with open(args.app_password_file, encoding="utf-8") as f:
                    password = f.read().strip()
            applied = provision(args.admin_url, MIGRATIONS, args.app_role, password)
            log.info("users database ready", extra={"applied": ",".join(map(str, applied)) or "none"})
            return 0
        from services.users.app import build

        setup_tracing("users", settings.otel_exporter)
        build(settings).serve_forever()
        return 0
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
