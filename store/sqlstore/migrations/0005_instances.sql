-- Several instances on one PostgreSQL (package ntf, Ownership): the live
-- instances with their heartbeat, and per SMP server a lease naming the
-- one instance that holds its subscriptions. Times are milliseconds of
-- the database's clock, so the instances' clocks need not agree. SQLite
-- (one instance) creates the tables and never uses them.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- owner is '' when the lease is free. generation grows at every
-- acquisition: it is the fencing token of one holder's tenure.
CREATE TABLE server_leases (
    server     TEXT PRIMARY KEY,
    owner      TEXT NOT NULL DEFAULT '',
    generation BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX server_leases_owner ON server_leases (owner);

INSERT INTO server_leases (server) SELECT DISTINCT server FROM subscription_queues;
