//! REST API bearer tokens (`Authorization: Bearer vgot_…`): stored as the SHA-256 of the
//! secret with a role; looked up by hash on every request.

use super::error::{corrupt, is_unique_violation, query_error};
use super::{Result, Store, StoreError, TokenHash};

/// What an API token may do (the API's type; the role → permission table lives with the
/// REST layer).
pub use vigo_api::tokens::ApiRole;

/// A token to create with [`Store::create_api_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Its public id, `tok_…`.
    pub id: String,
    /// Its name, unique among unrevoked tokens.
    pub name: String,
    /// SHA-256 of the `vgot_…` secret.
    pub hash: TokenHash,
    /// What it may do.
    pub role: ApiRole,
    /// The web user it belongs to, if any.
    pub owner: Option<String>,
    /// When (Unix seconds).
    pub created_at: i64,
    /// Unusable from this time on; `None` never expires.
    pub expires_at: Option<i64>,
}

/// An API token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its public id, `tok_…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// SHA-256 of its secret.
    pub hash: TokenHash,
    /// What it may do.
    pub role: ApiRole,
    /// The web user it belongs to, if any.
    pub owner: Option<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it expires, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl ApiToken {
    /// Whether a request bearing this token at `now` is authenticated: not revoked, not
    /// expired.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|exp| now < exp)
    }
}

#[derive(sqlx::FromRow)]
struct ApiTokenRow {
    id: String,
    name: String,
    token_sha256: String,
    role: String,
    owner: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiTokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(r: ApiTokenRow) -> Result<Self> {
        let hash = TokenHash::from_hex(&r.token_sha256)
            .ok_or_else(|| corrupt("api token", &r.id, "token_sha256 is not 32 hex bytes"))?;
        let role = ApiRole::parse(&r.role)
            .ok_or_else(|| corrupt("api token", &r.id, format_args!("role `{}`", r.role)))?;
        Ok(ApiToken {
            id: r.id,
            name: r.name,
            hash,
            role,
            owner: r.owner,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// The columns of an [`ApiTokenRow`], in order.
macro_rules! api_token_columns {
    () => {
        "id, name, token_sha256, role, owner, created_at, expires_at, revoked_at"
    };
}

const INSERT_API_TOKEN: &str = concat!(
    "INSERT INTO api_tokens (",
    api_token_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)"
);

const API_TOKEN_BY_HASH: &str = concat!(
    "SELECT ",
    api_token_columns!(),
    " FROM api_tokens WHERE token_sha256 = $1"
);

const API_TOKEN_BY_ID: &str = concat!(
    "SELECT ",
    api_token_columns!(),
    " FROM api_tokens WHERE id = $1"
);

const LIST_API_TOKENS: &str = concat!(
    "SELECT ",
    api_token_columns!(),
    " FROM api_tokens ORDER BY created_at, id"
);

const REVOKE_API_TOKEN: &str =
    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";

impl Store {
    /// Stores a new API token (its hash only). A duplicate id, hash, or a name held by
    /// an unrevoked token is [`StoreError::AlreadyExists`].
    pub async fn create_api_token(&self, new: &NewApiToken) -> Result<ApiToken> {
        let result = with_pool!(self, |pool| {
            sqlx::query(INSERT_API_TOKEN)
                .bind(&new.id)
                .bind(&new.name)
                .bind(new.hash.to_hex())
                .bind(new.role.as_str())
                .bind(new.owner.as_deref())
                .bind(new.created_at)
                .bind(new.expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        match result {
            Ok(_) => Ok(ApiToken {
                id: new.id.clone(),
                name: new.name.clone(),
                hash: new.hash,
                role: new.role,
                owner: new.owner.clone(),
                created_at: new.created_at,
                expires_at: new.expires_at,
                revoked_at: None,
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: "api token",
                id: format!("{} ({})", new.id, new.name),
            }),
            Err(e) => Err(query_error("creating api token", &new.id)(e)),
        }
    }

    /// The token with this hash, revoked or expired ones included (check
    /// [`ApiToken::is_valid_at`]).
    pub async fn api_token_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiToken>> {
        let row: Option<ApiTokenRow> = with_pool!(self, |pool| {
            sqlx::query_as(API_TOKEN_BY_HASH)
                .bind(hash.to_hex())
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error("reading api token", format_args!("{hash:?}")))?;
        row.map(ApiToken::try_from).transpose()
    }

    /// Every API token, oldest first, revoked ones included.
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        let rows: Vec<ApiTokenRow> = with_pool!(self, |pool| {
            sqlx::query_as(LIST_API_TOKENS).fetch_all(pool).await
        })
        .map_err(query_error("listing api tokens", "all"))?;
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    /// Revokes an API token; revoking a revoked token keeps its first revocation time.
    /// Returns the token as stored afterwards.
    pub async fn revoke_api_token(&self, id: &str, now: i64) -> Result<ApiToken> {
        let row: Option<ApiTokenRow> = with_pool!(self, |pool| {
            async {
                sqlx::query(REVOKE_API_TOKEN)
                    .bind(now)
                    .bind(id)
                    .execute(pool)
                    .await?;
                sqlx::query_as(API_TOKEN_BY_ID)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            .await
        })
        .map_err(query_error("revoking api token", id))?;
        row.map(ApiToken::try_from)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: "api token",
                id: id.to_owned(),
            })
    }
}
