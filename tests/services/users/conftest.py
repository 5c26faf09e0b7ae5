"""Re-export the users fixtures (helpers live in users_support so test modules can import them)."""

from tests.services.pg_server import pg_server, pg_server_factory
from tests.services.users.users_support import users_db, users_server, users_stub

__all__ = ["pg_server", "pg_server_factory", "users_db", "users_server", "users_stub"]
