-- The class board's state. Every verdict is kept (an append-only log): the board's views are
-- derived from it, so a restart, a replayed post or a late retry never loses or doubles anything.

CREATE TABLE classes (
    id bigserial PRIMARY KEY,
    -- What learners type to join (`cargo xtask room join <url> <code>`).
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    -- Only hashes of tokens are stored: a copy of the database lets nobody act as anyone.
    instructor_token_hash bytea NOT NULL UNIQUE,
    opened_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz
);

CREATE TABLE learners (
    id uuid PRIMARY KEY,
    class_id bigint NOT NULL REFERENCES classes (id),
    name text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    joined_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (class_id, name)
);

CREATE TABLE verdicts (
    -- Chosen by the learner's xtask: a retried post is recognised and stored once.
    id uuid PRIMARY KEY,
    learner_id uuid NOT NULL REFERENCES learners (id),
    factor smallint NOT NULL CHECK (factor BETWEEN 1 AND 12),
    passed smallint NOT NULL,
    total smallint NOT NULL,
    failing text[] NOT NULL,
    -- Checks that could not observe what they need on the learner's platform: not in `total`.
    not_checkable smallint NOT NULL,
    compiled boolean NOT NULL,
    hints_used smallint NOT NULL,
    checks_edited boolean NOT NULL,
    -- The learner's clock, as they saw it; the board orders by its own.
    at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX verdicts_by_learner ON verdicts (learner_id, received_at);

CREATE TABLE doctor_reports (
    id uuid PRIMARY KEY,
    learner_id uuid NOT NULL REFERENCES learners (id),
    -- Which of doctor's findings are problems, by name (`toolchain`, `postgres`, ...).
    problems text[] NOT NULL,
    at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX doctor_reports_by_learner ON doctor_reports (learner_id, received_at);
