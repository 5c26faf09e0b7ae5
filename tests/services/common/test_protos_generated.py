"""The committed generated code must match what the .proto files generate today."""

from __future__ import annotations

import tempfile
from pathlib import Path

from services.protos import generate


def test_committed_generated_code_is_fresh() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "gen"
        generate.generate(fresh)
        problems = generate.diff(fresh, generate.GEN_DIR)
    assert not problems, f"stale generated code, run `python -m services.protos.generate`: {problems}"


def test_generated_code_imports_without_path_hacks() -> None:
    from services.protos.gen.shop.catalog.v1 import catalog_pb2, catalog_pb2_grpc
    from services.protos.gen.shop.orders.v1 import orders_pb2, orders_pb2_grpc
    from services.protos.gen.shop.users.v1 import users_pb2_grpc

    assert catalog_pb2.DESCRIPTOR.package == "shop.catalog.v1"
    assert orders_pb2.DESCRIPTOR.package == "shop.orders.v1"
    assert hasattr(catalog_pb2_grpc, "CatalogServiceStub")
    assert hasattr(orders_pb2_grpc, "OrdersServiceServicer")
    assert hasattr(users_pb2_grpc, "UsersServiceStub")
