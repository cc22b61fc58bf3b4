//! The embedded SQLite backend: one file, `<data_dir>/vigo.db`, in WAL mode (readers
//! never block the writer), with foreign keys enforced and a busy timeout so that
//! concurrent writers wait for each other instead of failing.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite};

use super::{Backend, Dialect, Result, StoreError};

/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "vigo.db";

/// Connections in the pool: WAL lets readers run beside the one writer.
const MAX_CONNECTIONS: u32 = 4;

/// How long a writer waits for another one before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, embedded at build time from `migrations/sqlite/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Opens `<data_dir>/vigo.db`, creating the directory and the file if missing, switches
/// it to WAL and applies pending migrations.
pub async fn open(data_dir: &Path) -> Result<SqlitePool> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let path = data_dir.join(FILE_NAME);
    let open_error = |source| StoreError::Open {
        backend: Backend::Sqlite,
        location: path.display().to_string(),
        source,
    };
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // Safe with WAL: a power cut may lose the last commits, never corrupt the file.
        .synchronous(SqliteSynchronous::Normal);

    // WAL is a property of the file. Switching needs an exclusive lock that the busy
    // timeout does not cover, so it is done once, on a lone connection, before the pool
    // opens several.
    let first = options
        .clone()
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await
        .map_err(open_error)?;
    first.close().await.map_err(open_error)?;

    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(open_error)?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: Backend::Sqlite,
            source,
        })?;
    Ok(pool)
}

impl Dialect for SqlitePool {
    type Db = Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        // A deferred transaction that reads first and then writes fails at once with
        // SQLITE_BUSY when another connection committed in between; IMMEDIATE takes the
        // write lock at BEGIN, waiting up to the busy timeout.
        self.begin_with("BEGIN IMMEDIATE").await
    }

    fn lock_config_versions(&self) -> Option<&'static str> {
        None
    }
}
