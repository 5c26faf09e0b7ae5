"""DocumentDB through moto's RDS backend.

The DocumentDB API is the RDS query API with ``Engine=docdb`` (the provider signs it for ``rds``), so moto routes it
to its RDS backend, whose per-engine default tables (port, engine version, allocated storage) have no ``docdb`` row:
CreateDBCluster/CreateDBInstance with ``Engine=docdb`` then fail with a KeyError (HTTP 500). The shim adds the row
with DocumentDB's real defaults, leaving every other engine untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GAP = "moto's RDS rejects engine docdb (no defaults for port, version, storage)"

DOCDB_DEFAULTS: dict[str, Any] = {"port": 27017, "engine_version": "5.0.0", "allocated_storage": 0}


def _with_docdb(original: Callable[..., Any], value: Callable[..., Any]) -> Any:
    def patched(engine: str, *args: Any, **kwargs: Any) -> Any:
        if engine == "docdb":
            return value(*args, **kwargs)
        return original(engine, *args, **kwargs)

    patched.__wrapped__ = original  # type: ignore[attr-defined]
    return staticmethod(patched)


def _plus_docdb(engines: Callable[[], list[str]]) -> Callable[[Any], list[str]]:
    def listed(cls: Any) -> list[str]:
        return sorted([*engines(), "docdb"])

    return listed


def apply() -> None:
    from moto.rds import models, utils

    # Both engine lists (clusters and instances) are classmethods over an Enum, which cannot grow: wrap them.
    for enum, method in (
        (utils.ClusterEngine, "list_cluster_engines"),
        (utils.DbInstanceEngine, "valid_db_instance_engine"),
    ):
        engines = getattr(enum, method)
        if "docdb" not in engines():
            setattr(enum, method, classmethod(_plus_docdb(engines)))

    for cls in (models.DBCluster, models.DBInstance):
        for name, value in (
            ("default_port", lambda *_, **__: DOCDB_DEFAULTS["port"]),
            ("default_engine_version", lambda *_, **__: DOCDB_DEFAULTS["engine_version"]),
            ("default_allocated_storage", lambda *_, **__: DOCDB_DEFAULTS["allocated_storage"]),
        ):
            original = cls.__dict__.get(name)
            if original is None:
                continue
            function = original.__func__ if isinstance(original, staticmethod) else original
            setattr(cls, name, _with_docdb(function, value))
