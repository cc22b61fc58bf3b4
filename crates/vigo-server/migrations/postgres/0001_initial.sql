-- vigosrv storage, PostgreSQL dialect. Keep in step with ../sqlite/0001_initial.sql: same
-- tables, columns, constraints and indexes; only the types and the trigger syntax differ.
-- Timestamps are Unix seconds (BIGINT); ids are text (UUIDs hyphenated, lower case).

-- Enrolled machines. At most one active envoy per hostname (case-insensitive); a forced
-- re-registration revokes the previous one, whose row stays for history.
CREATE TABLE envoys (
    id              TEXT PRIMARY KEY,
    hostname        TEXT NOT NULL,
    public_key      TEXT NOT NULL,             -- ed25519, 64 lower-case hex characters
    cert_serial     TEXT NOT NULL,
    cert_pem        TEXT NOT NULL,
    environment     TEXT,
    address         TEXT,
    agent_version   TEXT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    enrolled_at     BIGINT NOT NULL,
    revoked_at      BIGINT,
    last_seen_at    BIGINT,
    policy_version  TEXT,
    traits          TEXT,                      -- JSON document, latest only
    traits_sha256   TEXT,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (length(public_key) = 64)
);
CREATE UNIQUE INDEX envoys_one_active_per_hostname ON envoys (lower(hostname))
    WHERE status = 'active';
CREATE INDEX envoys_by_hostname ON envoys (lower(hostname), id);

-- One-time enrollment tokens. Only the SHA-256 of the secret is stored.
CREATE TABLE enrollment_tokens (
    id               TEXT PRIMARY KEY,
    token_sha256     TEXT NOT NULL UNIQUE,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    hostname_pattern TEXT,
    used_at          BIGINT,
    used_by          TEXT,
    CHECK ((used_at IS NULL) = (used_by IS NULL))
);

-- Hostname patterns allowed to enroll; `trusted` ones need no token.
CREATE TABLE approved_patterns (
    pattern    TEXT PRIMARY KEY,
    trusted    BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- Convergence runs reported by envoys, and their per-resource results.
CREATE TABLE runs (
    id              TEXT PRIMARY KEY,          -- UUID v7: sorts by time
    envoy_id        TEXT NOT NULL REFERENCES envoys (id) ON DELETE CASCADE,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL,
    duration_micros BIGINT NOT NULL,
    policy_version  TEXT,
    dry_run         BOOLEAN NOT NULL,
    n_none          BIGINT NOT NULL,
    n_created       BIGINT NOT NULL,
    n_updated       BIGINT NOT NULL,
    n_deleted       BIGINT NOT NULL,
    n_skipped       BIGINT NOT NULL,
    n_blocked       BIGINT NOT NULL,
    n_error         BIGINT NOT NULL
);
CREATE INDEX runs_by_envoy ON runs (envoy_id, started_at DESC, id DESC);
CREATE INDEX runs_by_finish ON runs (finished_at);

CREATE TABLE run_results (
    run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,           -- order within the run
    resource_id     TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    name            TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN
                        ('none', 'created', 'updated', 'deleted', 'skipped', 'blocked', 'error')),
    message         TEXT NOT NULL,
    duration_micros BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- REST API bearer tokens (`vgot_…`); only the SHA-256 of the secret is stored.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,             -- tok_…
    name         TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'compliance')),
    owner        TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Append-only audit log: the triggers refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL                      -- JSON
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Published desired state: one row per `vigocli config publish`.
CREATE TABLE config_versions (
    version      TEXT PRIMARY KEY CHECK (length(version) = 16), -- YYYYMMDDTHHMMSSZ
    tree_hash    TEXT NOT NULL,
    tree         TEXT NOT NULL,               -- JSON object: path -> file text
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL
);
