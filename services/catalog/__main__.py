"""``python -m services.catalog`` serves; ``... migrate`` provisions the schema; ``... seed`` loads demo data.

Serve reads SHOP_GRPC_PORT (50051), SHOP_HTTP_PORT (/metrics, 9090), SHOP_DATABASE_URL (the application role,
never the owner), SHOP_SECRETS_DIR (admin-token, page-token-key), SHOP_LOG_LEVEL, SHOP_OTEL_EXPORTER.
"""

from __future__ import annotations

import argparse
import logging
import sys

from services.common.logs import configure_logging
from services.common.pg_migrate import add_migrate_command, run_migrate
from services.common.settings import ConfigError, Settings
from services.common.tracing import setup_tracing

log = logging.getLogger("services.catalog")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.catalog")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gRPC server (default)")
    add_migrate_command(sub, app_role="catalog_app")
    seed = sub.add_parser("seed", help="load the demo catalogue for a tenant (uses SHOP_DATABASE_URL)")
    seed.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)

    settings = Settings.from_env("catalog")
    configure_logging("catalog", settings.log_level)
    try:
        if args.command == "migrate":
            from services.catalog.app import MIGRATIONS

            run_migrate(args, "catalog", MIGRATIONS)
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
