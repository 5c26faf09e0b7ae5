-- ReserveStock as one statement. Before this function, a reservation of one item took six round trips (BEGIN,
-- set_config, the reservation row, the stock update, the item row with its change event, COMMIT); the service
-- now calls it on an autocommit connection, so the statement is the transaction: one round trip, and a failure
-- anywhere rolls back everything it did.
--
-- SECURITY INVOKER (the default): it runs as the calling application role, so the row level security policies
-- apply exactly as to that role's own statements; it sets app.tenant_id itself (local to the transaction, as
-- services/common/pg.py tenant_tx does) because no transaction exists before the call.
--
-- Answers:
--   one row per item, in the order given (the caller sorts them by product id: locks are always taken in the
--   same order, so two reservations cannot deadlock), priced as of the update that took the stock;
--   no row when p_reservation already exists (the caller replays it or reports the conflicting reuse);
--   SQLSTATE RS001 when an item's stock could not be taken (unknown product or not enough stock); the message
--   detail is the item's index, so the caller can say which one and why.
CREATE FUNCTION reserve_stock(
    p_tenant text,
    p_reservation uuid,
    p_request_hash text,
    p_ttl_s integer,
    p_products uuid[],
    p_quantities bigint[],
    p_register_tenant boolean
) RETURNS TABLE (
    item_product uuid,
    item_sku text,
    item_name text,
    item_price_minor bigint,
    item_currency text,
    hold_expires_at timestamptz
)
LANGUAGE plpgsql
AS $$
DECLARE
    expires timestamptz;
    taken record;
BEGIN
    IF cardinality(p_products) IS DISTINCT FROM cardinality(p_quantities) OR cardinality(p_products) = 0 THEN
        RAISE EXCEPTION 'reserve_stock: % products but % quantities',
            cardinality(p_products), cardinality(p_quantities) USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('app.tenant_id', p_tenant, true);
    IF p_register_tenant THEN
        INSERT INTO catalog_tenants (tenant_id) VALUES (p_tenant) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO reservations (id, status, request_hash, expires_at)
    VALUES (p_reservation, 'HELD', p_request_hash, now() + make_interval(secs => p_ttl_s))
    ON CONFLICT (tenant_id, id) DO NOTHING
    RETURNING reservations.expires_at INTO expires;
    IF expires IS NULL THEN
        RETURN;
    END IF;
    FOR i IN 1 .. cardinality(p_products) LOOP
        -- Conditional: under READ COMMITTED a concurrent writer re-checks the condition on the newest row.
        UPDATE products p
        SET stock_available = p.stock_available - p_quantities[i],
            stock_reserved = p.stock_reserved + p_quantities[i],
            version = p.version + 1,
            updated_at = now()
        WHERE p.id = p_products[i] AND p.stock_available >= p_quantities[i]
        RETURNING p.id, p.sku, p.name, p.price_minor, p.currency, p.version INTO taken;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'reserve_stock: the stock of item % could not be taken', i - 1
                USING ERRCODE = 'RS001', DETAIL = (i - 1)::text;
        END IF;
        INSERT INTO reservation_items (reservation_id, product_id, quantity)
        VALUES (p_reservation, taken.id, p_quantities[i]);
        -- The channel and payload of services/catalog/repository.py _notify; delivered only if this commits.
        PERFORM pg_notify(
            'catalog_changes',
            json_build_object('t', p_tenant, 'p', taken.id, 'k', 'STOCK_CHANGED', 'v', taken.version)::text
        );
        item_product := taken.id;
        item_sku := taken.sku;
        item_name := taken.name;
        item_price_minor := taken.price_minor;
        item_currency := taken.currency;
        hold_expires_at := expires;
        RETURN NEXT;
    END LOOP;
END;
$$;
