-- Notification subscriptions (package ntf): the SMP notifier queues an
-- app hands over, and the durable outbox of their notifications. One SQL
-- text for SQLite and PostgreSQL, as 0001; booleans are INTEGER 0/1.
CREATE TABLE subscriptions (
    id         TEXT PRIMARY KEY,
    token_id   TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE INDEX subscriptions_token ON subscriptions (token_id);

-- A notifier queue (server, notifier id) is in at most one subscription.
CREATE TABLE subscription_queues (
    server          TEXT NOT NULL,
    notifier_id     BYTEA NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    token_id        TEXT NOT NULL,
    -- Orders the queues of a subscription; a queue's index is its rank.
    position        BIGINT NOT NULL,
    key_sealed      BYTEA NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    rotate          INTEGER NOT NULL DEFAULT 0,
    added_at        BIGINT NOT NULL,
    PRIMARY KEY (server, notifier_id)
);

CREATE INDEX subscription_queues_subscription ON subscription_queues (subscription_id, position);
CREATE INDEX subscription_queues_token ON subscription_queues (token_id);

-- The outbox: per queue its newest notification, pending until a push
-- carrying it (or a newer one of the queue) was accepted. next_attempt_at
-- is set only while pending, so the partial index holds just the work.
-- A queue retired by a rotation leaves its pending notification here
-- until it is delivered; so the key refers to the token, not the queue.
CREATE TABLE notifications (
    server          TEXT NOT NULL,
    notifier_id     BYTEA NOT NULL,
    token_id        TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    nonce           BYTEA NOT NULL,
    enc_meta        BYTEA NOT NULL,
    pending         INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    PRIMARY KEY (server, notifier_id)
);

CREATE INDEX notifications_token ON notifications (token_id);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
