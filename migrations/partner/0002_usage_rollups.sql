-- Daily usage totals, one row per partner-local day, client, provider and
-- model. Each usage event adds to its row in the transaction that inserts
-- the event, so the rollup always equals the sum of the raw events; reports
-- read this table instead of scanning usage_events.
CREATE TABLE usage_daily (
    local_day TEXT NOT NULL,
    client_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    events BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    cache_hits BIGINT NOT NULL,
    PRIMARY KEY (local_day, client_id, provider, model)
);
CREATE INDEX usage_daily_client ON usage_daily (client_id, local_day);

-- Events written before this migration.
INSERT INTO usage_daily (local_day, client_id, provider, model, events, input_tokens,
    cached_input_tokens, output_tokens, cost_nanos, cache_hits)
SELECT local_day, client_id, provider, model, COUNT(*), SUM(input_tokens),
    SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_nanos), SUM(cache_hit)
FROM usage_events
GROUP BY local_day, client_id, provider, model;
