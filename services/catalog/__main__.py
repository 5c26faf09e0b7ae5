"""``python -m services.catalog`` serves; ``... migrate`` provisions the schema; ``... seed`` loads demo data.

Serve reads SHOP_GRPC_PORT (50051), SHOP_HTTP_PORT (/metrics, 9090), SHOP_DATABASE_URL (the application role,
never the owner), SHOP_SECRETS_DIR (admin-token, page-token-key), SHOP_LOG_LEVEL, SHOP_OTEL_EXPORTER.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from services.common.logs import configure_logging
from services.common.settings import ConfigError, Settings
from services.common.tracing import setup_tracing

log = logging.getLogger("services.catalog")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.catalog")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gRPC server (default)")
    mig = sub.add_parser("migrate", help="create the database if missing, apply migrations, create the app role")
    mig.add_argument(
        "--admin-url",
        default=os.environ.get("SHOP_DATABASE_ADMIN_URL"),
        help="owner/admin connection URL (default: $SHOP_DATABASE_ADMIN_URL)",
    )
    mig.add_argument("--app-role", default="catalog_app", help="the role the service connects as")
    mig.add_argument("--app-password-file", help="file holding the app role's password (LOGIN)")
    seed = sub.add_parser("seed", help="load the demo catalogue for a tenant (uses SHOP_DATABASE_URL)")
    seed.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)

    settings = Settings.from_env("catalog")
    configure_logging("catalog", settings.log_level)
    try:
        if args.command == "migrate":
            from services.catalog.app import MIGRATIONS
            from services.common.pg_migrate import provision

            if not args.admin_url:
                raise ConfigError("migrate needs --admin-url or SHOP_DATABASE_ADMIN_URL")
            password = None
            if args.app_password_file:
                with open(args.app_password_file, encoding="utf-8") as f:
                    password = f.read().strip()
            applied = provision(args.admin_url, MIGRATIONS, args.app_role, password)
            log.info("catalog database ready", extra={"applied": ",".join(map(str, applied)) or "none"})
            return 0
        if args.command == "seed":
            from services.catalog.repository import CatalogRepository
            from services.catalog.seed import seed_demo_catalog
            from services.common.pg import Database

            db = Database(settings.require_database_url(), max_size=2)
            db.open()
            try:
                created = seed_demo_catalog(CatalogRepository(db), args.tenant)
            finally:
                db.close()
            log.info("demo catalogue seeded", extra={"tenant_id": args.tenant, "created": created})
            return 0
        from services.catalog.app import build

        setup_tracing("catalog", settings.otel_exporter)
        build(settings).serve_forever()
        return 0
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
