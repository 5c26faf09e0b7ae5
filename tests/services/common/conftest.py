from tests.services.pg_server import pg_server, pg_server_factory

__all__ = ["pg_server", "pg_server_factory"]
