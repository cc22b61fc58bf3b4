//! The audit log: every privileged operation, appended and never changed (the schema's
//! triggers refuse UPDATE and DELETE, so not even a bug here could rewrite history).

use super::error::{corrupt, query_error};
use super::{Result, Store};

/// An entry to append with [`Store::append_audit`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// When (Unix seconds).
    pub at: i64,
    /// Who: a web user, an API token name, `local-admin`, or an envoy id.
    pub actor: String,
    /// What, e.g. `config_published`, `envoy.revoked`, `token.created`.
    pub action: String,
    /// On what, e.g. a hostname, envoy id or config version.
    pub target: Option<String>,
    /// Anything else worth keeping (never a secret).
    pub detail: serde_json::Value,
}

/// An audit entry as stored: the API's type, answered as it is.
pub use vigo_api::audit::AuditEntry;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = super::StoreError;

    fn try_from(r: AuditRow) -> Result<Self> {
        let detail = serde_json::from_str(&r.detail)
            .map_err(|e| corrupt("audit", &r.id.to_string(), format_args!("detail: {e}")))?;
        Ok(AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail,
        })
    }
}

const APPEND: &str = "INSERT INTO audit_log (at, actor, action, target, detail) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id";

const LIST: &str = "SELECT id, at, actor, action, target, detail FROM audit_log \
     WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2";

impl Store {
    /// Appends an entry and returns it with its id.
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry> {
        let detail = entry.detail.to_string();
        let id: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar(APPEND)
                .bind(entry.at)
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(entry.target.as_deref())
                .bind(&detail)
                .fetch_one(pool)
                .await
        })
        .map_err(query_error("appending audit entry", &entry.action))?;
        Ok(AuditEntry {
            id,
            at: entry.at,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            detail: entry.detail.clone(),
        })
    }

    /// Up to `limit` entries, newest (last appended) first; with `before`, only entries
    /// older than that id (the next page).
    pub async fn list_audit(&self, limit: u32, before: Option<i64>) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = with_pool!(self, |pool| {
            sqlx::query_as(LIST)
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })
        .map_err(query_error(
            "listing audit entries",
            format_args!("limit {limit}"),
        ))?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}
