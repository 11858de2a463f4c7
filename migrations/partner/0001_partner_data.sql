-- One partner's own data. On PostgreSQL these tables live in the partner's
-- schema (partner_<slug>); on SQLite in the partner's own database file.
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    client_name TEXT NOT NULL,
    institution_type TEXT NOT NULL,
    students_count BIGINT NOT NULL,
    teachers_count BIGINT NOT NULL,
    exigencia TEXT NOT NULL,
    min_grade TEXT NOT NULL,
    passing_grade TEXT NOT NULL,
    max_grade TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES clients (client_id),
    role TEXT NOT NULL,
    email TEXT,
    active BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX users_client ON users (client_id);

CREATE TABLE assignments (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients (client_id),
    assignment_id TEXT NOT NULL,
    title TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reference_answer TEXT,
    max_points DOUBLE PRECISION NOT NULL,
    language TEXT NOT NULL,
    rubric TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (client_id, assignment_id)
);

CREATE TABLE submissions (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (client_id, assignment_id, submission_id),
    FOREIGN KEY (client_id, assignment_id) REFERENCES assignments (client_id, assignment_id)
);
CREATE INDEX submissions_student ON submissions (client_id, student_id);

CREATE TABLE evaluations (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    teacher_id TEXT,
    score_points DOUBLE PRECISION NOT NULL,
    max_points DOUBLE PRECISION NOT NULL,
    grade TEXT NOT NULL,
    criteria TEXT NOT NULL,
    overall_feedback TEXT NOT NULL,
    flags TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    cached BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    reviewed_by TEXT,
    reviewed_at TEXT,
    teacher_score DOUBLE PRECISION,
    teacher_comment TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (client_id, assignment_id, submission_id),
    FOREIGN KEY (client_id, assignment_id, submission_id)
        REFERENCES submissions (client_id, assignment_id, submission_id)
);
CREATE INDEX evaluations_client_teacher ON evaluations (client_id, teacher_id);
CREATE INDEX evaluations_student ON evaluations (client_id, student_id);
CREATE INDEX evaluations_created ON evaluations (client_id, created_at);

-- One row per billable action, written in the same transaction as the
-- result it bills. cost_nanos is the provider cost in 1e-9 USD.
CREATE TABLE usage_events (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    local_day TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT,
    assignment_id TEXT,
    evaluation_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    cache_hit BIGINT NOT NULL
);
CREATE INDEX usage_events_day ON usage_events (local_day, client_id);
