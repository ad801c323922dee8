-- Client queues (package qs) and the delivery service's groups (package
-- ds). One SQL text for SQLite and PostgreSQL: times are Unix
-- milliseconds, binary values BYTEA (a blob in SQLite).

CREATE TABLE qs_queues (
    id           TEXT PRIMARY KEY,
    secret_hash  BYTEA NOT NULL,
    token_id     TEXT NOT NULL DEFAULT '',
    push_pending INTEGER NOT NULL DEFAULT 0,
    -- Messages numbered up to acked are acknowledged (gone for this queue).
    acked        BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- The one counter of message sequence numbers: shared by every queue and
-- never reused, so a client's "after" stays valid whatever was deleted.
CREATE TABLE qs_counter (
    id  INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO qs_counter (id, seq) VALUES (1, 0);

-- A recipient set: the queues a fan-out reaches (a group's members),
-- named by the hash of its sorted queue ids and stored once, so a message
-- to 100 members is one payload row, not 100 queue rows.
CREATE TABLE qs_sets (
    set_id   BYTEA NOT NULL,
    queue_id TEXT NOT NULL,
    PRIMARY KEY (set_id, queue_id)
);
CREATE INDEX qs_sets_queue ON qs_sets (queue_id, set_id);

-- When each set was last used, so unused sets can be swept.
CREATE TABLE qs_set_info (
    set_id    BYTEA PRIMARY KEY,
    last_used BIGINT NOT NULL
);

-- A message: stored once for its set, less the sender's own queue.
CREATE TABLE qs_payloads (
    seq          BIGINT PRIMARY KEY,
    set_id       BYTEA NOT NULL,
    except_queue TEXT NOT NULL,
    data         BYTEA NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX qs_payloads_set ON qs_payloads (set_id, seq);

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
