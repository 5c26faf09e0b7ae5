"""pymongo client configured for Amazon DocumentDB (and compatible with nx-27017 locally).

DocumentDB specifics honoured here:
- ``retryWrites=false``: DocumentDB does not support retryable writes; our writes are idempotent by design
  (unique idempotency index, conditional updates on ``version``, deterministic audit ids) instead.
- TLS with the RDS CA bundle when TLS is on (``tlsCAFile``); DocumentDB enforces TLS by default.
- ``readPreference=secondaryPreferred`` only for reads that tolerate replica lag (order history); reads that
  decide a write (idempotency lookup, the order read before a transition) use the primary.
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient, ReadPreference
from pymongo.database import Database

from services.orders.settings import OrdersSettings

Document = dict[str, Any]


def make_client(settings: OrdersSettings, *, app_name: str = "eks-shop-orders") -> MongoClient[Document]:
    kwargs: dict[str, Any] = {
        "retryWrites": False,
        "tz_aware": True,
        "appname": app_name,
        "serverSelectionTimeoutMS": settings.mongo_timeout_ms,
        "connectTimeoutMS": settings.mongo_timeout_ms,
        "socketTimeoutMS": max(settings.mongo_timeout_ms * 3, 10_000),
        "maxPoolSize": 50,
        "w": "majority",
    }
    if settings.mongo_tls:
        kwargs["tls"] = True
        kwargs["tlsCAFile"] = settings.mongo_tls_ca_file
    creds = settings.mongo_credentials()
    host: str = settings.mongo_url
    if creds is not None:
        kwargs["username"] = creds.username
        kwargs["password"] = creds.password
        if creds.host:
            host = f"mongodb://{creds.host}:{creds.port or 27017}/"
    return MongoClient(host, **kwargs)


def primary(client: MongoClient[Document], name: str) -> Database[Document]:
    return client.get_database(name, read_preference=ReadPreference.PRIMARY)


def secondary_preferred(client: MongoClient[Document], name: str) -> Database[Document]:
    return client.get_database(name, read_preference=ReadPreference.SECONDARY_PREFERRED)
