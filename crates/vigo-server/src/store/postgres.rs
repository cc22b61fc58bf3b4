//! The PostgreSQL backend (`database.driver: postgres`, `database.url`): the same schema
//! as SQLite in PostgreSQL's dialect, so several `vigosrv` replicas can share one
//! database. Migrations take an advisory lock, so replicas starting together apply them
//! once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{Backend, Dialect, Result, StoreError};

/// Pool size when `server.yaml` does not say.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How long an operation waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, embedded at build time from `migrations/postgres/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Connects to `url` with a pool of `max_connections` (at least 1) and applies pending
/// migrations. Errors show the URL with its password masked.
pub async fn open(url: &str, max_connections: u32) -> Result<PgPool> {
    let open_error = |source| StoreError::Open {
        backend: Backend::Postgres,
        location: redact_url(url),
        source,
    };
    let options = PgConnectOptions::from_str(url).map_err(open_error)?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(open_error)?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: Backend::Postgres,
            source,
        })?;
    Ok(pool)
}

/// `url` with its password (user-info part or `password=` parameter) replaced by `***`,
/// for messages and logs.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = redact_user_info(base);
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `scheme://user:password@host/...` → `scheme://user:***@host/...`.
fn redact_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = rest[..at].find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..rest_start],
        &rest[..colon],
        &rest[at..]
    )
}

impl Dialect for PgPool {
    type Db = Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }

    fn lock_config_versions(&self) -> Option<&'static str> {
        Some("LOCK TABLE config_versions IN SHARE ROW EXCLUSIVE MODE")
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            redact_url("postgres://vigo:s3cr3t@db.example.net:5432/vigo?sslmode=require"),
            "postgres://vigo:***@db.example.net:5432/vigo?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://vigo@db.example.net/vigo"),
            "postgres://vigo@db.example.net/vigo"
        );
        assert_eq!(redact_url("postgres://db/vigo"), "postgres://db/vigo");
        assert_eq!(
            redact_url("postgres://db/vigo?user=vigo&password=s3cr3t&sslmode=disable"),
            "postgres://db/vigo?user=vigo&password=***&sslmode=disable"
        );
        // An `@` in the path is not user info.
        assert_eq!(redact_url("postgres://db/a:b@c"), "postgres://db/a:b@c");
    }
}
