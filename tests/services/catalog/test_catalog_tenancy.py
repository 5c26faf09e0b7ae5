"""Tenant isolation: over gRPC with the other tenant's ids in hand, and in the database itself (RLS)."""

from __future__ import annotations

import uuid

import grpc
import psycopg
import pytest

from services.common.pg import Database
from services.common.settings import ConfigError
from services.protos.gen.shop.catalog.v1 import catalog_pb2 as pb
from services.protos.gen.shop.catalog.v1 import catalog_pb2_grpc
from services.protos.gen.shop.common.v1 import common_pb2
from tests.services.catalog.catalog_support import CatalogDb, md

Stub = catalog_pb2_grpc.CatalogServiceStub


def _code(fn, *args, **kwargs) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, timeout=10, **kwargs)
    return info.value.code()  # type: ignore[no-any-return]


def test_tenant_a_cannot_read_or_change_tenant_b_products(stub: Stub) -> None:
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    price = common_pb2.Money(units_minor=100, currency="USD")
    pb_b = stub.CreateProduct(
        pb.CreateProductRequest(sku="SECRET", name="B only secret", price=price, initial_stock=5),
        metadata=md(b, admin=True),
        timeout=10,
    )
    stub.CreateProduct(
        pb.CreateProductRequest(sku="MINE", name="A product", price=price, initial_stock=5),
        metadata=md(a, admin=True),
        timeout=10,
    )

    assert _code(stub.GetProduct, pb.GetProductRequest(product_id=pb_b.id), metadata=md(a)) == grpc.StatusCode.NOT_FOUND
    batch = stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=[pb_b.id]), metadata=md(a), timeout=10)
    assert not batch.products
    assert list(batch.missing_product_ids) == [pb_b.id]
    listed = stub.ListProducts(pb.ListProductsRequest(), metadata=md(a), timeout=10)
    assert [p.sku for p in listed.products] == ["MINE"]
    found = stub.SearchProducts(pb.SearchProductsRequest(query="secret"), metadata=md(a), timeout=10)
    assert not found.products
    assert (
        _code(stub.UpdateProduct, pb.UpdateProductRequest(product_id=pb_b.id, name="pwned"), metadata=md(a, admin=True))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(stub.AdjustStock, pb.AdjustStockRequest(product_id=pb_b.id, delta=-5), metadata=md(a, admin=True))
        == grpc.StatusCode.NOT_FOUND
    )
    reserve = pb.ReserveStockRequest(
        reservation_id=str(uuid.uuid4()), items=[pb.ReservationItem(product_id=pb_b.id, quantity=5)]
    )
    assert _code(stub.ReserveStock, reserve, metadata=md(a)) == grpc.StatusCode.NOT_FOUND
    # B's reservation cannot be committed, released or returned by A either
    rid = str(uuid.uuid4())
    stub.ReserveStock(
        pb.ReserveStockRequest(reservation_id=rid, items=[pb.ReservationItem(product_id=pb_b.id, quantity=1)]),
        metadata=md(b),
        timeout=10,
    )
    assert (
        _code(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id=rid), metadata=md(a))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(stub.ReturnReservation, pb.ReturnReservationRequest(reservation_id=rid), metadata=md(a))
        == grpc.StatusCode.NOT_FOUND
    )
    # ... and B's data is untouched
    after = stub.GetProduct(pb.GetProductRequest(product_id=pb_b.id), metadata=md(b), timeout=10)
    assert after.name == "B only secret"
    assert after.stock_available == 4
    # without a tenant nothing is served
    assert _code(stub.GetProduct, pb.GetProductRequest(product_id=pb_b.id)) == grpc.StatusCode.INVALID_ARGUMENT


def test_rls_holds_in_the_database_for_the_app_role(catalog_db: CatalogDb, stub: Stub) -> None:
    b = f"b-{uuid.uuid4().hex[:8]}"
    prod = stub.CreateProduct(
        pb.CreateProductRequest(
            sku="RLS", name="rls", initial_stock=3, price=common_pb2.Money(units_minor=1, currency="USD")
        ),
        metadata=md(b, admin=True),
        timeout=10,
    )
    with psycopg.connect(catalog_db.app_url, autocommit=True) as conn:
        # no tenant set: no rows at all
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (0,)
        with conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', 'a-other', true)")
            assert conn.execute("SELECT count(*) FROM products WHERE id = %s", [prod.id]).fetchone() == (0,)
            cur = conn.execute("UPDATE products SET stock_available = 0 WHERE id = %s", [prod.id])
            assert cur.rowcount == 0
            assert conn.execute("DELETE FROM products WHERE id = %s", [prod.id]).rowcount == 0
        conn.execute("BEGIN")
        conn.execute("SELECT set_config('app.tenant_id', 'a-other', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # RLS WITH CHECK: cannot write as tenant B
            conn.execute(
                "INSERT INTO products (tenant_id, sku, name, price_minor, currency) VALUES (%s, 'X', 'x', 1, 'USD')",
                [b],
            )
        conn.execute("ROLLBACK")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE products DISABLE ROW LEVEL SECURITY")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET row_security = off; SELECT * FROM products")
    app_db = Database(catalog_db.app_url, max_size=1)
    app_db.open()
    app_db.assert_cannot_bypass_rls()  # the app role passes the startup check
    app_db.close()
    owner_db = Database(catalog_db.admin_url, max_size=1)
    owner_db.open()
    with pytest.raises(ConfigError, match="BYPASSRLS"):
        owner_db.assert_cannot_bypass_rls()
    owner_db.close()
