-- Catalog schema. Every tenant table: tenant_id defaulting to the transaction's app.tenant_id, composite keys
-- starting with tenant_id, ROW LEVEL SECURITY enabled and FORCED (so even the owner is subject to it).
-- current_setting('app.tenant_id', true) is NULL when unset, and NULL = x is never true: no tenant, no rows.

CREATE TABLE catalog_tenants (
    -- Registry of tenants that have catalog data, so the reservation sweeper can visit each tenant in turn
    -- (RLS lets a transaction see one tenant at a time). Holds ids only, no tenant data.
    tenant_id   text PRIMARY KEY CHECK (tenant_id ~ '^[a-z][a-z0-9-]{1,30}[a-z0-9]$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    tenant_id        text NOT NULL DEFAULT current_setting('app.tenant_id', true)
                     REFERENCES catalog_tenants (tenant_id),
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    sku              text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    price_minor      bigint NOT NULL CHECK (price_minor >= 0),
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    category         text NOT NULL DEFAULT '' CHECK (length(category) <= 100),
    -- available: can be reserved; reserved: held by HELD reservations. The CHECKs are the last line of
    -- defence: the conditional UPDATEs already never take stock below zero.
    stock_available  bigint NOT NULL DEFAULT 0 CHECK (stock_available >= 0),
    stock_reserved   bigint NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
    stock_committed  bigint NOT NULL DEFAULT 0 CHECK (stock_committed >= 0),
    version          bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    search           tsvector GENERATED ALWAYS AS (
                         setweight(to_tsvector('english', name), 'A') ||
                         setweight(to_tsvector('english', category), 'B') ||
                         setweight(to_tsvector('english', description), 'C')) STORED,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku)
);
CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_category_sku_idx ON products (tenant_id, category, sku);

CREATE TABLE reservations (
    tenant_id     text NOT NULL DEFAULT current_setting('app.tenant_id', true)
                  REFERENCES catalog_tenants (tenant_id),
    id            uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('HELD', 'COMMITTED', 'RELEASED', 'EXPIRED')),
    request_hash  text NOT NULL,  -- items of the original request, to tell a retry from a conflicting reuse
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX reservations_held_expiry_idx ON reservations (tenant_id, expires_at) WHERE status = 'HELD';

CREATE TABLE reservation_items (
    tenant_id       text NOT NULL DEFAULT current_setting('app.tenant_id', true),
    reservation_id  uuid NOT NULL,
    product_id      uuid NOT NULL,
    quantity        bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (tenant_id, reservation_id, product_id),
    FOREIGN KEY (tenant_id, reservation_id) REFERENCES reservations (tenant_id, id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

ALTER TABLE products ENABLE ROW LEVEL SECURITY;
ALTER TABLE products FORCE ROW LEVEL SECURITY;
ALTER TABLE reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservations FORCE ROW LEVEL SECURITY;
ALTER TABLE reservation_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservation_items FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON products
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON reservations
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON reservation_items
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
