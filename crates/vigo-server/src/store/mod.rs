//! Persistent server state: enrolled envoys, enrollment tokens and approved hostname
//! patterns, runs and their per-resource results, API tokens, the audit log and the
//! published config versions — in SQLite (the embedded default, `<data_dir>/vigo.db`) or
//! PostgreSQL (`database.url`, how several `vigosrv` replicas share state).
//!
//! # Shape
//!
//! [`Store`] is one concrete type holding either backend's connection pool (a private
//! enum). Every operation is written once, as an inherent `async fn` on `Store`; the
//! private `with_pool!` macro expands its body once per backend, so each body is
//! type-checked against both drivers and the SQL text is shared. Neither a trait with
//! two implementations nor `async_trait` is used:
//!
//! - there is exactly one production implementation per backend and no need for
//!   callers to be generic or to hold a `dyn Store`, so a trait would only add a second
//!   copy of ~30 signatures;
//! - two hand-written implementations would duplicate every query and drift apart; here
//!   the one suite in `tests/store.rs` exercises the same code on both backends;
//! - sqlx's `Any` driver would also give one code path, but it carries only basic types
//!   and builds connections from a URL, losing the typed SQLite options (WAL, busy
//!   timeout, foreign keys) and each driver's native type checks.
//!
//! What genuinely differs per backend lives in [`sqlite`] and [`postgres`]: opening and
//! tuning the pool, the embedded migrations (`migrations/{sqlite,postgres}/`, same
//! schema in two dialects), and how a write transaction serializes (the private
//! `Dialect` trait).
//!
//! # Conventions
//!
//! - SQL uses `$1` placeholders, which both drivers accept, and is checked at run time
//!   (`sqlx::query`, never `query!`: no database is needed to build).
//! - Timestamps are `i64` Unix seconds, passed in by the caller (`now`), so tests control
//!   time and both backends store plain integers.
//! - Ids are UUIDs stored as hyphenated lower-case text. Secrets are never stored: tokens
//!   are looked up by their SHA-256 ([`TokenHash`]).
//! - Single-use, uniqueness and ordering rules are enforced by the database (conditional
//!   updates, unique and partial unique indexes, a table lock for publishing), not by
//!   read-then-write in Rust, so they hold across several server replicas sharing one
//!   PostgreSQL.
//! - Migrations are embedded with `sqlx::migrate!`. Cargo rebuilds when an existing
//!   migration changes, but not when a new file appears: touch a source file (or add a
//!   build script printing `cargo:rerun-if-changed=migrations`) after adding one.
//! - The check-in hot path calls the store once, to remember its nonce in the replay
//!   ledger ([`Store::remember_nonces`]), batched with the other requests in flight into
//!   one transaction ([`crate::replay`]). Last-seen times, policy versions and traits
//!   are kept in memory and flushed in batches ([`Store::touch_envoys`],
//!   [`Store::store_traits`]), one transaction per batch.

use std::fmt;
use std::path::PathBuf;

use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

/// Expands `$body` once per backend with `$pool` bound to that backend's pool
/// (`&SqlitePool` or `&PgPool`), so one body serves both drivers.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Expands `$body` with `$pool` bound to the pool holding the replay ledger.
macro_rules! with_ledger_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match (&$store.db, &$store.ledger) {
            (_, Some($pool)) => $body,
            ($crate::store::Db::Sqlite($pool), None) => $body,
            ($crate::store::Db::Postgres($pool), None) => $body,
        }
    };
}

mod api_tokens;
mod audit;
mod enrollment;
mod envoy_certs;
mod envoys;
mod error;
mod nonces;
pub mod postgres;
mod runs;
pub mod sqlite;
mod token_hash;
mod versions;

pub use api_tokens::{ApiRole, ApiToken, NewApiToken};
pub use audit::{AuditEntry, NewAuditEntry};
pub use enrollment::{ApprovedPattern, EnrollmentToken, NewEnrollmentToken};
pub use envoys::{
    Envoy, EnvoyFilter, EnvoySeen, EnvoyStatus, EnvoyTraits, NewEnvoy, Reenrollment, Registered,
};
pub use error::{Result, StoreError, TokenRejection};
pub use nonces::NonceRecord;
pub use runs::{ActionCounts, Recorded, ResourceResult, ResultsPage, Run, tally};
pub use token_hash::TokenHash;
pub use versions::{ConfigVersion, VersionSummary};

/// The server's database: one pool of either backend. Cheap to clone (the pool is
/// reference-counted); every clone shares the same connections.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// SQLite only: the replay ledger's own file (`replay.db`); PostgreSQL keeps the
    /// ledger in its one database, shared by the replicas.
    ledger: Option<SqlitePool>,
}

/// The pool behind a [`Store`].
#[derive(Debug, Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Where the store lives: the `database` section of `server.yaml`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// `database.driver: sqlite`: the file `<data_dir>/vigo.db`, created if missing.
    Sqlite {
        /// The server's data directory (created if missing).
        data_dir: PathBuf,
    },
    /// `database.driver: postgres`.
    Postgres {
        /// `database.url`, e.g. `postgres://vigo:…@db.example.net/vigo`.
        url: String,
        /// Size of the connection pool.
        max_connections: u32,
    },
}

/// One page of a listing: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Maximum number of rows.
    pub limit: u32,
    /// Rows to skip first.
    pub offset: u32,
}

impl Page {
    /// The first `limit` rows.
    pub fn first(limit: u32) -> Self {
        Page { limit, offset: 0 }
    }
}

impl Store {
    /// Opens (creating if needed) the configured database and brings its schema up to
    /// date with the embedded migrations.
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        match config {
            StoreConfig::Sqlite { data_dir } => Store::open_sqlite(data_dir).await,
            StoreConfig::Postgres {
                url,
                max_connections,
            } => Store::open_postgres(url, *max_connections).await,
        }
    }

    /// Opens `<data_dir>/vigo.db` (see [`sqlite::open`]).
    pub async fn open_sqlite(data_dir: &std::path::Path) -> Result<Store> {
        Ok(Store {
            db: Db::Sqlite(sqlite::open(data_dir).await?),
            ledger: Some(sqlite::open_replay(data_dir).await?),
        })
    }

    /// Connects to PostgreSQL at `url` (see [`postgres::open`]).
    pub async fn open_postgres(url: &str, max_connections: u32) -> Result<Store> {
        Ok(Store {
            db: Db::Postgres(postgres::open(url, max_connections).await?),
            ledger: None,
        })
    }

    /// Which backend this store runs on (backups, for one, are only Vigo's job on SQLite).
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection, waiting for the ones in use to be returned. Call it at
    /// shutdown so SQLite checkpoints its WAL.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await);
        if let Some(ledger) = &self.ledger {
            ledger.close().await;
        }
    }
}

/// How each backend starts a transaction that will write.
pub(crate) trait Dialect {
    /// The driver.
    type Db: sqlx::Database;

    /// Begins a transaction that takes the write lock up front where the backend needs
    /// that to serialize writers (SQLite `BEGIN IMMEDIATE`; PostgreSQL locks rows as it
    /// goes, so a plain `BEGIN`).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;

    /// A statement run first in the publish transaction so that concurrent publishers
    /// (several replicas) see each other's versions; `None` when `begin_write` already
    /// serializes them.
    fn lock_config_versions(&self) -> Option<&'static str>;
}

/// Parses a stored id, reporting a corrupt `what` row when it is not a UUID.
fn parse_id(what: &'static str, id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|e| error::corrupt(what, id, format_args!("id: {e}")))
}

/// Converts a count or size to the `i64` both backends store.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Converts a stored non-negative `i64` back, clamping corrupt negatives to 0.
fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
