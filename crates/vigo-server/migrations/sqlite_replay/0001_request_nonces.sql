-- The replay ledger (its own file, `<data_dir>/replay.db`, so its writes never wait for
-- the main database's write lock): every accepted signed request's (envoy, nonce), kept
-- until the request's timestamp has left the skew window, so that a captured request is
-- refused after a restart too.
--
-- Keyed by expiry first: expiry derives from the request's *signed* timestamp, so a
-- replay carries the same key, and new rows land at the right edge of the B-tree (hot
-- pages, no random I/O) while pruning takes a range from the left edge.
CREATE TABLE request_nonces (
    expires_at INTEGER NOT NULL,
    envoy_id   BLOB NOT NULL,   -- 16 bytes (the nil UUID for registrations)
    nonce      BLOB NOT NULL,   -- 16 bytes
    batch      INTEGER NOT NULL, -- random id of the statement that wrote the row
    PRIMARY KEY (expires_at, envoy_id, nonce)
) WITHOUT ROWID;
