-- Failed sign-ins, counted in PostgreSQL so that every replica of the users service (and a restarted one) shares
-- one budget per account and per client. Before this table each replica counted in its own memory: with N replicas
-- an attacker spreading guesses over connections got N times the budget, and a restart forgot every count.
--
-- One row per (tenant, scope, key) and fixed window: the first failure opens a window of the scope's length, the
-- failures inside it are counted, and the first attempt after it ends starts a new window at 1 (no separate reset
-- job). So at most 2 x limit - 1 failures fit in any span of one window length, never more, across all replicas.
--
-- key_hash is HMAC-SHA256(pepper, scope || NUL || tenant || NUL || e-mail or client address), computed by the
-- service (services/users/throttle.py) with a pepper derived from the jwt-keys secret, which the database never
-- holds. Not the e-mail or the address itself: this table says who is failing to sign in from where, which is
-- personal data and must not be readable from a dump or a replica. Not a plain SHA-256 either: e-mail addresses and
-- IPv4 addresses are few enough to hash them all and look the digest up, which a key outside the database prevents.
--
-- Tenant-scoped under FORCED row level security like the other tenant tables; tenants never share a count.

CREATE TABLE sign_in_failures (
    tenant_id       text NOT NULL DEFAULT current_setting('app.tenant_id', true),
    scope           text NOT NULL CHECK (scope IN ('account', 'client')),
    key_hash        bytea NOT NULL CHECK (length(key_hash) = 32),
    failures        integer NOT NULL CHECK (failures >= 0),
    window_ends_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, scope, key_hash)
);
-- The bounded cleanup below takes a tenant's oldest expired windows.
CREATE INDEX sign_in_failures_expiry_idx ON sign_in_failures (tenant_id, window_ends_at);

ALTER TABLE sign_in_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE sign_in_failures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sign_in_failures
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- A sign-in attempt, before its password is verified, as one statement (the service calls it on an autocommit
-- connection, so the statement is the transaction: one round trip). SECURITY INVOKER (the default): it runs as the
-- application role, so the row level security policies apply; it sets app.tenant_id itself, local to the
-- transaction, as services/common/pg.py tenant_tx does.
--
-- The attempt is counted as a failure of the account and of the client *before* the password is checked, under the
-- rows' locks, and allowed only if neither count then exceeds its limit. Checking first and recording after the
-- (slow, argon2id) verification would let every attempt that arrives during a verification through: concurrency,
-- not the limit, would set the budget. A refused attempt gives its count back (it is not a failure, as before:
-- a client refused for one account does not use up its own budget, nor an account for a refused client); the rows
-- are still locked by this transaction, so no other attempt has seen the increment. A successful sign-in gives the
-- client's count back and clears the account (sign_in_succeeded).
--
-- Answers true (go on and verify the password) or false (throttled). Nothing is counted in a tenant that does not
-- exist: it has no account to guess, and its rows would never be cleaned (the cleanup runs per tenant).
--
-- Cleanup: each call deletes up to 20 of the tenant's expired windows, after its own upsert (its rows are locked
-- first, and SKIP LOCKED never waits, so the cleanup adds no lock wait and no deadlock). Each call adds at most two
-- rows, so expired rows cannot pile up in a tenant that is signed in to.
CREATE FUNCTION sign_in_attempt(
    p_tenant text,
    p_account bytea,
    p_account_max integer,
    p_account_window_s double precision,
    p_client bytea,
    p_client_max integer,
    p_client_window_s double precision
) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    exceeded boolean;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true);
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant) THEN
        RETURN true;
    END IF;
    -- Rows in a fixed order (the account, then the client) in every caller: two attempts cannot deadlock.
    WITH counted AS (
        INSERT INTO sign_in_failures AS f (scope, key_hash, failures, window_ends_at)
        VALUES ('account', p_account, 1, now() + make_interval(secs => p_account_window_s)),
               ('client', p_client, 1, now() + make_interval(secs => p_client_window_s))
        ON CONFLICT (tenant_id, scope, key_hash) DO UPDATE
        SET failures = CASE WHEN f.window_ends_at > now() THEN f.failures + 1 ELSE 1 END,
            window_ends_at = CASE WHEN f.window_ends_at > now() THEN f.window_ends_at ELSE excluded.window_ends_at END
        RETURNING f.scope, f.failures
    )
    SELECT coalesce(bool_or(failures > CASE scope WHEN 'account' THEN p_account_max ELSE p_client_max END), false)
    INTO exceeded FROM counted;
    IF exceeded THEN
        UPDATE sign_in_failures SET failures = failures - 1
        WHERE (scope = 'account' AND key_hash = p_account) OR (scope = 'client' AND key_hash = p_client);
    END IF;
    DELETE FROM sign_in_failures f
    USING (
        SELECT scope, key_hash FROM sign_in_failures
        WHERE window_ends_at <= now()
        ORDER BY window_ends_at
        LIMIT 20
        FOR UPDATE SKIP LOCKED
    ) expired
    WHERE f.scope = expired.scope AND f.key_hash = expired.key_hash;
    RETURN NOT exceeded;
END;
$$;

-- A successful sign-in: the account's failures are cleared and the client gets back the count its attempt took
-- (a success is not a failure; the client's earlier failures stay). One statement, like sign_in_attempt, and the
-- same row order.
CREATE FUNCTION sign_in_succeeded(p_tenant text, p_account bytea, p_client bytea) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true);
    DELETE FROM sign_in_failures WHERE scope = 'account' AND key_hash = p_account;
    UPDATE sign_in_failures SET failures = failures - 1
    WHERE scope = 'client' AND key_hash = p_client AND failures > 0;
END;
$$;
