"""Catalog service: products, full-text search and inventory reservations on PostgreSQL with row-level security.

Run with ``python -m services.catalog`` (serve) or ``python -m services.catalog migrate`` (schema + app role).
"""
