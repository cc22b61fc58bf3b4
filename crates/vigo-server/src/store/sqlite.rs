//! The embedded SQLite backend: one file, `<data_dir>/vigo.db`, in WAL mode (readers
//! never block the writer), with foreign keys enforced and a busy timeout so that
//! concurrent writers wait for each other instead of failing.
//!
//! **Modes.** The directory is created 0700 and the database file 0600 before SQLite
//! opens it (not left to the umask: SQLite would create it 0644). SQLite gives its
//! `-wal` and `-shm` files the database file's mode, so they are 0600 too. A database
//! left wider by an older version is tightened to 0600 at open, with a warning.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
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

/// The replay ledger's file inside the data directory: apart from `vigo.db`, so that the
/// ledger's one write per request never waits for the main database's write lock (runs,
/// flushes) and never makes them wait.
pub const REPLAY_FILE_NAME: &str = "replay.db";

/// The schema, embedded at build time from `migrations/sqlite/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The replay ledger's schema, from `migrations/sqlite_replay/`.
static REPLAY_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite_replay");

/// Opens `<data_dir>/vigo.db`, creating the directory and the file if missing, switches
/// it to WAL and applies pending migrations.
pub async fn open(data_dir: &Path) -> Result<SqlitePool> {
    open_file(data_dir, FILE_NAME, MAX_CONNECTIONS, &MIGRATOR).await
}

/// Opens the replay ledger `<data_dir>/replay.db` the same way, with one connection (its
/// one writer batches every request in flight).
pub async fn open_replay(data_dir: &Path) -> Result<SqlitePool> {
    open_file(data_dir, REPLAY_FILE_NAME, 1, &REPLAY_MIGRATOR).await
}

async fn open_file(
    data_dir: &Path,
    file_name: &str,
    max_connections: u32,
    migrator: &'static sqlx::migrate::Migrator,
) -> Result<SqlitePool> {
    let data_dir_error = |path: &Path, source| StoreError::DataDir {
        path: path.display().to_string(),
        source,
    };
    crate::pki::files::ensure_private_dir(data_dir).map_err(|e| data_dir_error(data_dir, e))?;
    let path = data_dir.join(file_name);
    create_private_file(&path).map_err(|e| data_dir_error(&path, e))?;
    for (file, was) in tighten_database_files(&path).map_err(|e| data_dir_error(&path, e))? {
        tracing::warn!(
            file = %file.display(),
            was = %format_args!("{was:o}"),
            "others could read the database: tightened to 0600"
        );
    }
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
        .max_connections(max_connections)
        .connect_with(options)
        .await
        .map_err(open_error)?;
    migrator
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: Backend::Sqlite,
            source,
        })?;
    Ok(pool)
}

/// Creates the database file empty with mode 0600 unless it exists (SQLite takes an
/// empty file for an empty database).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets the database file and its `-wal`, `-shm` and `-journal` companions to 0600 when
/// group or others have access; returns the files changed with their old modes.
fn tighten_database_files(db: &Path) -> std::io::Result<Vec<(PathBuf, u32)>> {
    let mut changed = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        let meta = match std::fs::symlink_metadata(&file) {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            changed.push((file, mode));
        }
    }
    Ok(changed)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[tokio::test]
    async fn the_database_its_wal_and_shm_are_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let pool = open(&dir).await.unwrap();
        // A write, so the WAL and the shared-memory index exist.
        sqlx::query("CREATE TABLE probe (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        for name in ["vigo.db", "vigo.db-wal", "vigo.db-shm"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn a_database_left_readable_by_others_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        open(&dir).await.unwrap().close().await;
        let db = dir.join(FILE_NAME);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(tighten_database_files(&db).unwrap(), [(db.clone(), 0o644)]);
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
        open(&dir).await.unwrap().close().await;
        assert_eq!(mode(&db), 0o600);
    }
}
