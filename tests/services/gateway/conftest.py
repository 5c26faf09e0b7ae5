"""Fixtures of the gateway tests: the real backends, Redis and the gateway (see stack.py)."""

from tests.services.gateway.redis_cluster import redis_cluster
from tests.services.gateway.stack import gateway, stack
from tests.services.mongo_server import mongo_url
from tests.services.pg_server import pg_server
from tests.services.redis_server import redis_server, redis_server_factory

__all__ = ["gateway", "mongo_url", "pg_server", "redis_cluster", "redis_server", "redis_server_factory", "stack"]
