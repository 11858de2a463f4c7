-- Closed invoices: one per partner and billing month (YYYY-MM in the
-- partner's time zone). A row is written once, when the month is closed,
-- and never updated; later corrections become adjustment lines of a later
-- invoice. Money is decimal text in the invoice currency, provider cost is
-- integer nanos of USD, and the lines, the per-client breakdown, the plan
-- and the platform's cost and margin are JSON documents.
CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    partner_name TEXT NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    evaluations BIGINT NOT NULL,
    total TEXT NOT NULL,
    provider_cost_nanos BIGINT NOT NULL,
    plan TEXT NOT NULL,
    lines TEXT NOT NULL,
    clients TEXT NOT NULL,
    platform TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    UNIQUE (partner_id, month)
);
