-- Push tokens (package ntf). One SQL text for SQLite and PostgreSQL:
-- times are Unix milliseconds in BIGINT, binary values BYTEA (a blob in
-- SQLite), enums lower-case TEXT.
CREATE TABLE tokens (
    id                TEXT PRIMARY KEY,
    platform          TEXT NOT NULL,
    app               TEXT NOT NULL,
    environment       TEXT NOT NULL,
    device_token      TEXT NOT NULL,
    dh_key            BYTEA NOT NULL,
    server_public_key BYTEA NOT NULL,
    server_key_sealed BYTEA NOT NULL,
    secret_hash       BYTEA NOT NULL,
    code_hash         BYTEA NOT NULL,
    failed_attempts   INTEGER NOT NULL DEFAULT 0,
    status            TEXT NOT NULL,
    invalid_reason    TEXT NOT NULL DEFAULT '',
    check_interval_ms BIGINT NOT NULL DEFAULT 0,
    -- Set only while periodic checks are due for an active token, so the
    -- partial index holds just the tokens the scheduler may claim.
    next_check_at     BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE INDEX tokens_next_check_at ON tokens (next_check_at) WHERE next_check_at IS NOT NULL;
