-- The replay ledger: every accepted signed request's (envoy, nonce), kept until the
-- request's timestamp has left the skew window, so that a captured request is refused
-- after a restart and by every replica sharing this database.
--
-- Keyed by expiry first: expiry derives from the request's *signed* timestamp, so a
-- replay carries the same key, and new rows land at the right edge of the index while
-- pruning takes a range from the left edge.
CREATE TABLE request_nonces (
    expires_at BIGINT NOT NULL,
    envoy_id   BYTEA NOT NULL,  -- 16 bytes (the nil UUID for registrations)
    nonce      BYTEA NOT NULL,  -- 16 bytes
    batch      BIGINT NOT NULL, -- random id of the statement that wrote the row
    PRIMARY KEY (expires_at, envoy_id, nonce)
);
