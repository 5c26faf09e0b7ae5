"""Re-export the catalog fixtures (helpers live in catalog_support so test modules can import them)."""

from tests.services.catalog.catalog_support import catalog_db, catalog_server, stub
from tests.services.pg_server import pg_server, pg_server_factory

__all__ = ["catalog_db", "catalog_server", "pg_server", "pg_server_factory", "stub"]
