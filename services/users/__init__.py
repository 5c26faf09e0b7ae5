"""Users service: tenants, accounts, argon2id sign-in with throttling of failures shared by every replica, ES256
JWTs with a rotating key set (JWKS), rotating refresh tokens. PostgreSQL with row-level security, as catalog."""
