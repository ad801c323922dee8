-- Client queues (package qs) and the delivery service's groups (package
-- ds). One SQL text for SQLite and PostgreSQL: times are Unix
-- milliseconds, binary values BYTEA (a blob in SQLite).

CREATE TABLE qs_queues (
    id           TEXT PRIMARY KEY,
    secret_hash  BYTEA NOT NULL,
    token_id     TEXT NOT NULL DEFAULT '',
    push_pending INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- The one counter of message sequence numbers: shared by every queue and
-- never reused, so a client's "after" stays valid whatever was deleted.
CREATE TABLE qs_counter (
    id  INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO qs_counter (id, seq) VALUES (1, 0);

-- A fanned-out message is stored once, and goes when no queue holds it.
CREATE TABLE qs_payloads (
    seq         BIGINT PRIMARY KEY,
    data        BYTEA NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE TABLE qs_messages (
    queue_id TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (queue_id, seq)
);
CREATE INDEX qs_messages_seq ON qs_messages (seq);

-- A group's scalar state; version is the compare-and-swap counter.
CREATE TABLE ds_groups (
    group_id   BYTEA PRIMARY KEY,
    version    BIGINT NOT NULL,
    epoch      BIGINT NOT NULL,
    header     BYTEA NOT NULL,
    group_info BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The ratchet tree, one row per node (mls.NodeRecord): a commit rewrites
-- the O(log n) nodes it changes.
CREATE TABLE ds_nodes (
    group_id BYTEA NOT NULL,
    node     BIGINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (group_id, node)
);

CREATE TABLE ds_members (
    group_id        BYTEA NOT NULL,
    leaf            BIGINT NOT NULL,
    queue_id        TEXT NOT NULL,
    key_package_ref BYTEA NOT NULL,
    PRIMARY KEY (group_id, leaf)
);

-- The current epoch's proposals, in order.
CREATE TABLE ds_proposals (
    group_id BYTEA NOT NULL,
    seq      BIGINT NOT NULL,
    message  BYTEA NOT NULL,
    PRIMARY KEY (group_id, seq)
);
