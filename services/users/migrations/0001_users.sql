-- Users schema. Tenant tables carry tenant_id (defaulting to the transaction's app.tenant_id) under FORCED
-- row-level security; the same e-mail may exist once per tenant. signing_keys is platform-wide (not tenant data).

CREATE TABLE tenants (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,30}[a-z0-9]$'),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id      text NOT NULL DEFAULT current_setting('app.tenant_id', true) REFERENCES tenants (id),
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    email          text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    password_hash  text NOT NULL,
    display_name   text NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
    role           text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE refresh_tokens (
    tenant_id    text NOT NULL DEFAULT current_setting('app.tenant_id', true),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL,
    family_id    uuid NOT NULL,      -- all tokens descending from one sign-in; reuse of a consumed one kills it
    token_hash   bytea NOT NULL,     -- SHA-256 of the opaque token; the token itself is never stored
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (tenant_id, family_id);

CREATE TABLE signing_keys (
    kid              text PRIMARY KEY,
    alg              text NOT NULL,
    private_key_enc  bytea NOT NULL,  -- AES-GCM(nonce || ciphertext) under the key from the jwt-keys secret
    public_jwk       jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    retires_at       timestamptz,     -- stops signing (a newer key took over)
    expires_at       timestamptz      -- leaves the JWKS: tokens it signed have all expired
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON tenants
    USING (id = current_setting('app.tenant_id', true))
    WITH CHECK (id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON refresh_tokens
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
