//! Published config versions: each `vigocli config publish` stores the published tree
//! under a new version `YYYYMMDDTHHMMSSZ` (strictly increasing), so every replica serves
//! the same desired state and `config history` / `rollback` have the old trees.

use std::collections::BTreeMap;

use super::error::{corrupt, query_error};
use super::{Dialect, Result, Store, StoreError};

/// A published version with its whole tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigVersion {
    /// The version, `YYYYMMDDTHHMMSSZ` (UTC), which orders versions as text.
    pub version: String,
    /// Content hash of the tree.
    pub tree_hash: String,
    /// The published tree: path (relative to `stacks/`) → file text.
    pub tree: BTreeMap<String, String>,
    /// When it was published (Unix seconds).
    pub published_at: i64,
    /// Who published it.
    pub published_by: String,
}

/// A published version without its tree, for history listings and change polling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    /// The version.
    pub version: String,
    /// Content hash of the tree.
    pub tree_hash: String,
    /// When it was published.
    pub published_at: i64,
    /// Who published it.
    pub published_by: String,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: String,
    tree_hash: String,
    tree: String,
    published_at: i64,
    published_by: String,
}

impl TryFrom<VersionRow> for ConfigVersion {
    type Error = StoreError;

    fn try_from(r: VersionRow) -> Result<Self> {
        let tree = serde_json::from_str(&r.tree)
            .map_err(|e| corrupt("config version", &r.version, format_args!("tree: {e}")))?;
        Ok(ConfigVersion {
            version: r.version,
            tree_hash: r.tree_hash,
            tree,
            published_at: r.published_at,
            published_by: r.published_by,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    version: String,
    tree_hash: String,
    published_at: i64,
    published_by: String,
}

impl From<SummaryRow> for VersionSummary {
    fn from(r: SummaryRow) -> Self {
        VersionSummary {
            version: r.version,
            tree_hash: r.tree_hash,
            published_at: r.published_at,
            published_by: r.published_by,
        }
    }
}

const MAX_VERSION: &str = "SELECT max(version) FROM config_versions";

const INSERT_VERSION: &str = "INSERT INTO config_versions \
     (version, tree_hash, tree, published_at, published_by) VALUES ($1, $2, $3, $4, $5)";

const SELECT_VERSION: &str = "SELECT version, tree_hash, tree, published_at, published_by \
     FROM config_versions WHERE version = $1";

const LATEST_VERSION: &str = "SELECT version, tree_hash, tree, published_at, published_by \
     FROM config_versions ORDER BY version DESC LIMIT 1";

const HISTORY: &str = "SELECT version, tree_hash, published_at, published_by \
     FROM config_versions ORDER BY version DESC LIMIT $1";

/// Whether `v` has the form `YYYYMMDDTHHMMSSZ`.
fn is_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

impl Store {
    /// Stores a newly published version. It must be newer than every stored version
    /// ([`StoreError::VersionNotNewer`] otherwise), also when several replicas publish
    /// at once.
    pub async fn publish_version(&self, v: &ConfigVersion) -> Result<()> {
        if !is_version(&v.version) {
            return Err(StoreError::Invalid {
                what: "config version",
                value: v.version.clone(),
                reason: "expected YYYYMMDDTHHMMSSZ".into(),
            });
        }
        let tree = serde_json::to_string(&v.tree).map_err(|e| StoreError::Invalid {
            what: "config tree",
            value: v.version.clone(),
            reason: e.to_string(),
        })?;
        let newer_exists = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_write().await?;
                if let Some(lock) = pool.lock_config_versions() {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let latest: Option<String> =
                    sqlx::query_scalar(MAX_VERSION).fetch_one(&mut *tx).await?;
                if let Some(latest) = latest.filter(|l| *l >= v.version) {
                    tx.rollback().await?;
                    return Ok::<_, sqlx::Error>(Some(latest));
                }
                sqlx::query(INSERT_VERSION)
                    .bind(&v.version)
                    .bind(&v.tree_hash)
                    .bind(&tree)
                    .bind(v.published_at)
                    .bind(&v.published_by)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(None)
            }
            .await
        })
        .map_err(query_error("publishing config version", &v.version))?;
        match newer_exists {
            Some(latest) => Err(StoreError::VersionNotNewer {
                version: v.version.clone(),
                latest,
            }),
            None => Ok(()),
        }
    }

    /// The latest published version with its tree (`None` before the first publish).
    pub async fn latest_version(&self) -> Result<Option<ConfigVersion>> {
        let row: Option<VersionRow> = with_pool!(self, |pool| {
            sqlx::query_as(LATEST_VERSION).fetch_optional(pool).await
        })
        .map_err(query_error("reading latest config version", "latest"))?;
        row.map(ConfigVersion::try_from).transpose()
    }

    /// One published version with its tree (for rollback).
    pub async fn config_version(&self, version: &str) -> Result<Option<ConfigVersion>> {
        let row: Option<VersionRow> = with_pool!(self, |pool| {
            sqlx::query_as(SELECT_VERSION)
                .bind(version)
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error("reading config version", version))?;
        row.map(ConfigVersion::try_from).transpose()
    }

    /// Up to `limit` published versions, newest first, without their trees. With
    /// `limit` 1 this is the cheap "has a replica published?" poll.
    pub async fn version_history(&self, limit: u32) -> Result<Vec<VersionSummary>> {
        let rows: Vec<SummaryRow> = with_pool!(self, |pool| {
            sqlx::query_as(HISTORY)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })
        .map_err(query_error(
            "listing config versions",
            format_args!("limit {limit}"),
        ))?;
        Ok(rows.into_iter().map(VersionSummary::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::is_version;

    #[test]
    fn version_form() {
        assert!(is_version("20260105T093000Z"));
        assert!(!is_version("20260105T0930Z"));
        assert!(!is_version("20260105 093000Z"));
        assert!(!is_version("2026010ST093000Z"));
    }
}
