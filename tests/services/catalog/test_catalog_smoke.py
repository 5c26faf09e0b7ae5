from __future__ import annotations

from tests.services.catalog.catalog_support import md

from services.protos.gen.shop.catalog.v1 import catalog_pb2 as pb
from services.protos.gen.shop.common.v1 import common_pb2


def test_create_and_get(stub) -> None:  # type: ignore[no-untyped-def]
    p = stub.CreateProduct(
        pb.CreateProductRequest(sku="A-1", name="Red mug", price=common_pb2.Money(units_minor=100, currency="USD"),
                                initial_stock=5),
        metadata=md("tenant-a", admin=True), timeout=10,
    )
    got = stub.GetProduct(pb.GetProductRequest(product_id=p.id), metadata=md("tenant-a"), timeout=10)
    assert got.sku == "A-1"
