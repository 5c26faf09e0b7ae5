"""``python -m services.users`` serves; ``... migrate`` provisions the database and the application role.

Serve reads SHOP_GRPC_PORT (50053), SHOP_HTTP_PORT (/metrics, 9090), SHOP_DATABASE_URL (application role),
SHOP_SECRETS_DIR with ``jwt-keys`` (required: encrypts the signing keys at rest and peppers the sign-in throttle's
keys) and ``admin-token`` (enables CreateTenant), SHOP_LOG_LEVEL, SHOP_OTEL_EXPORTER, and the sign-in throttle's
limits (throttle.py): SHOP_SIGNIN_ACCOUNT_MAX_FAILURES (5), SHOP_SIGNIN_ACCOUNT_WINDOW_S (900),
SHOP_SIGNIN_CLIENT_MAX_FAILURES (50), SHOP_SIGNIN_CLIENT_WINDOW_S (900).
"""

from __future__ import annotations

import argparse
import logging
import sys

from services.common.logs import configure_logging
from services.common.pg_migrate import add_migrate_command, run_migrate
from services.common.settings import ConfigError, Settings
from services.common.tracing import setup_tracing

log = logging.getLogger("services.users")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.users")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gRPC server (default)")
    add_migrate_command(sub, app_role="users_app")
    args = parser.parse_args(argv)

    settings = Settings.from_env("users")
    configure_logging("users", settings.log_level)
    try:
        if args.command == "migrate":
            from services.users.app import MIGRATIONS

            run_migrate(args, "users", MIGRATIONS)
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
