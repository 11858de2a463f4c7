-- Control tables of the platform: one row per partner (tenant).
-- The same DDL runs on PostgreSQL (inside the sam_control schema) and on
-- SQLite (the embedded control.db). Timestamps are RFC 3339 UTC text and
-- money is decimal text, and flags are 0/1 integers, so both engines store
-- identical values.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL UNIQUE,
    partner_name TEXT NOT NULL,
    tier TEXT NOT NULL,
    subscription_status TEXT NOT NULL,
    monthly_cost TEXT NOT NULL,
    api_quota_daily BIGINT NOT NULL,
    llm_strategy TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    provisioned BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
