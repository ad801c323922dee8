-- The Delivery Service's deployment-wide signing secret (package ds,
-- SenderKeys: the keys it signs its own Remove proposals with as a
-- group's external sender), sealed with the master key. One row, which
-- the first instance to start writes and every other one reads.
CREATE TABLE ds_sender (
    id         INTEGER PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
