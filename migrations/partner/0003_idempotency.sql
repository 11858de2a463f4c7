-- Responses of POST requests sent with an Idempotency-Key header, so a
-- retry gets the first response instead of running the request again.
-- request_hash is the hex SHA-256 of the method, path and body. A row with
-- a NULL status_code is a request still running.
CREATE TABLE idempotency_keys (
    idempotency_key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status_code BIGINT,
    response_body TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
