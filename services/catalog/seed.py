"""The demo catalogue a new storefront starts with (``SeedDemoCatalog``, ``shopctl tenant create --demo``)."""

from __future__ import annotations

from services.catalog import domain
from services.catalog.repository import CatalogRepository
from services.common import errors, tenancy

# (sku, name, category, price in cents, stock, description)
DEMO_PRODUCTS: list[tuple[str, str, str, int, int, str]] = [
    ("MUG-001", "Stoneware Coffee Mug", "kitchen", 1499, 120, "A 350 ml glazed stoneware mug for coffee or tea."),
    ("MUG-002", "Insulated Travel Mug", "kitchen", 2499, 80, "Keeps coffee hot for six hours; leak-proof lid."),
    ("KET-001", "Gooseneck Kettle", "kitchen", 5999, 30, "Electric pour-over kettle with temperature control."),
    ("TEE-001", "Organic Cotton T-Shirt", "apparel", 1999, 200, "Soft organic cotton tee in a relaxed fit."),
    ("HOO-001", "Zip Hoodie", "apparel", 4999, 60, "Brushed fleece hoodie with a full-length zip."),
    ("SOC-001", "Merino Hiking Socks", "apparel", 1599, 150, "Cushioned merino wool socks for long trails."),
    ("BAG-001", "Canvas Backpack", "bags", 6999, 40, "Waxed canvas backpack with a padded laptop sleeve."),
    ("BAG-002", "Tote Bag", "bags", 1299, 300, "Heavy cotton tote for groceries and books."),
    ("LMP-001", "Desk Lamp", "home", 3999, 50, "Dimmable LED desk lamp with a warm light mode."),
    ("PLT-001", "Ceramic Plant Pot", "home", 2199, 90, "Matte ceramic pot with a drainage hole and saucer."),
    ("NBK-001", "Dotted Notebook", "stationery", 1199, 250, "A5 notebook, 160 pages of dotted paper."),
    ("PEN-001", "Fountain Pen", "stationery", 3499, 70, "Steel-nib fountain pen with a refillable converter."),
]


def seed_demo_catalog(repo: CatalogRepository, tenant_id: str, currency: str = "USD") -> int:
    """Create the demo products for ``tenant_id``; SKUs that exist are left alone. Returns how many were new."""
    created = 0
    with tenancy.tenant_context(tenant_id):
        for sku, name, category, price, stock, description in DEMO_PRODUCTS:
            try:
                repo.create_product(domain.NewProduct(sku, name, description, price, currency, category, stock))
                created += 1
            except errors.AlreadyExists:
                pass
    return created
