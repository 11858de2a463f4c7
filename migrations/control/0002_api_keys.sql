-- API keys and platform operators. Keys are platform-wide because a key is
-- looked up by its public prefix before its partner is known. Only the
-- SHA-256 of a key's secret is stored. scopes is a JSON array of
-- permission names; times are RFC 3339 UTC text, NULL when unset.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    client_id TEXT,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_keys_partner ON api_keys (partner_id, created_at);

-- Platform operators (super admins), who belong to no partner.
CREATE TABLE platform_admins (
    user_id TEXT PRIMARY KEY,
    email TEXT,
    active BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
