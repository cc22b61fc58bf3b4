-- The replay ledger: every accepted signed request's (envoy, nonce), kept until the
-- request's timestamp has left the skew window, so that a captured request is refused
-- after a restart too. Keyed for the insert-or-refuse of the check-in path; pruned by
-- expiry.
CREATE TABLE request_nonces (
    envoy_id   TEXT NOT NULL,   -- UUID (the nil UUID for registrations)
    nonce      BLOB NOT NULL,   -- 16 bytes
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (envoy_id, nonce)
) WITHOUT ROWID;
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at);
