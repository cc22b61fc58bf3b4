//! Who may enroll: one-time enrollment tokens (stored as SHA-256, single use, with an
//! expiry and an optional hostname pattern) and approved hostname patterns (a `trusted`
//! pattern lets matching hostnames enroll without a token).

use vigo_lang::glob::Pattern;

use super::error::{is_unique_violation, query_error};
use super::{Result, Store, StoreError, TokenHash, TokenRejection};

/// A token to create with [`Store::create_enrollment_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrollmentToken {
    /// A short public id for listings and deletion (never the secret).
    pub id: String,
    /// SHA-256 of the secret handed to the operator.
    pub hash: TokenHash,
    /// When (Unix seconds).
    pub created_at: i64,
    /// Unusable from this time on (Unix seconds).
    pub expires_at: i64,
    /// When set, only hostnames matching this glob may use the token.
    pub hostname_pattern: Option<String>,
}

/// An enrollment token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Its public id.
    pub id: String,
    /// SHA-256 of its secret.
    pub hash: TokenHash,
    /// When it was created.
    pub created_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// The hostnames it is scoped to, if any.
    pub hostname_pattern: Option<String>,
    /// When it was consumed.
    pub used_at: Option<i64>,
    /// The hostname that consumed it.
    pub used_by: Option<String>,
}

/// An approved hostname pattern: hostnames matching it may enroll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedPattern {
    /// The glob (hostcrate `match:` syntax, case-insensitive).
    pub pattern: String,
    /// Whether matching hostnames may enroll without a token (trusted enrollment).
    pub trusted: bool,
    /// When it was first approved (Unix seconds).
    pub created_at: i64,
}

impl ApprovedPattern {
    /// The longest pattern stored: a hostname glob is no longer than a hostname.
    pub const MAX_LEN: usize = 253;

    /// The pattern's short, URL-safe id (`pat_` and 16 hex digits of its SHA-256), by
    /// which it is removed whatever its text.
    pub fn id(&self) -> String {
        Self::id_of(&self.pattern)
    }

    /// The id of the pattern `text`.
    pub fn id_of(text: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(text.as_bytes());
        format!("pat_{}", &hex::encode(digest)[..16])
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    token_sha256: String,
    created_at: i64,
    expires_at: i64,
    hostname_pattern: Option<String>,
    used_at: Option<i64>,
    used_by: Option<String>,
}

impl TryFrom<TokenRow> for EnrollmentToken {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self> {
        let hash = TokenHash::from_hex(&r.token_sha256).ok_or_else(|| {
            super::error::corrupt(
                "enrollment token",
                &r.id,
                "token_sha256 is not 32 hex bytes",
            )
        })?;
        Ok(EnrollmentToken {
            id: r.id,
            hash,
            created_at: r.created_at,
            expires_at: r.expires_at,
            hostname_pattern: r.hostname_pattern,
            used_at: r.used_at,
            used_by: r.used_by,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PatternRow {
    pattern: String,
    trusted: bool,
    created_at: i64,
}

const TOKEN_COLUMNS_BY_HASH: &str = "SELECT id, token_sha256, created_at, expires_at, \
     hostname_pattern, used_at, used_by FROM enrollment_tokens WHERE token_sha256 = $1";

const LIST_TOKENS: &str = "SELECT id, token_sha256, created_at, expires_at, hostname_pattern, \
     used_at, used_by FROM enrollment_tokens ORDER BY created_at DESC, id";

const INSERT_TOKEN: &str = "INSERT INTO enrollment_tokens \
     (id, token_sha256, created_at, expires_at, hostname_pattern) VALUES ($1, $2, $3, $4, $5)";

/// The single-use guarantee: only an unused, unexpired token is updated, and the
/// database applies one such update at a time per row.
const CONSUME_TOKEN: &str = "UPDATE enrollment_tokens SET used_at = $1, used_by = $2 \
     WHERE id = $3 AND used_at IS NULL AND expires_at > $1";

const DELETE_TOKEN: &str = "DELETE FROM enrollment_tokens WHERE id = $1";

const UPSERT_PATTERN: &str = "INSERT INTO approved_patterns (pattern, trusted, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (pattern) DO UPDATE SET trusted = excluded.trusted";

const DELETE_PATTERN: &str = "DELETE FROM approved_patterns WHERE pattern = $1";

const LIST_PATTERNS: &str =
    "SELECT pattern, trusted, created_at FROM approved_patterns ORDER BY pattern";

/// Compiles a hostname glob given to the store, or says why it is malformed.
fn compile(glob: &str) -> Result<Pattern> {
    Pattern::new(glob).map_err(|e| StoreError::Invalid {
        what: "hostname pattern",
        value: glob.to_owned(),
        reason: e.to_string(),
    })
}

impl Store {
    /// Stores a new enrollment token (its hash only). A duplicate id or hash is
    /// [`StoreError::AlreadyExists`]; a malformed pattern or an expiry not after creation
    /// is [`StoreError::Invalid`].
    pub async fn create_enrollment_token(
        &self,
        new: &NewEnrollmentToken,
    ) -> Result<EnrollmentToken> {
        if let Some(glob) = &new.hostname_pattern {
            compile(glob)?;
        }
        if new.expires_at <= new.created_at {
            return Err(StoreError::Invalid {
                what: "token expiry",
                value: new.expires_at.to_string(),
                reason: format!("not after its creation time {}", new.created_at),
            });
        }
        let result = with_pool!(self, |pool| {
            sqlx::query(INSERT_TOKEN)
                .bind(&new.id)
                .bind(new.hash.to_hex())
                .bind(new.created_at)
                .bind(new.expires_at)
                .bind(new.hostname_pattern.as_deref())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        match result {
            Ok(_) => Ok(EnrollmentToken {
                id: new.id.clone(),
                hash: new.hash,
                created_at: new.created_at,
                expires_at: new.expires_at,
                hostname_pattern: new.hostname_pattern.clone(),
                used_at: None,
                used_by: None,
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: "enrollment token",
                id: new.id.clone(),
            }),
            Err(e) => Err(query_error("creating enrollment token", &new.id)(e)),
        }
    }

    /// Consumes the token with this hash for `hostname` at `now`, exactly once: of any
    /// number of concurrent calls (on any number of replicas) at most one succeeds. A
    /// refusal is [`StoreError::TokenRejected`] saying why (unknown, already used,
    /// expired, hostname not matching the token's pattern) and leaves the token as it was.
    pub async fn consume_token(
        &self,
        hash: &TokenHash,
        hostname: &str,
        now: i64,
    ) -> Result<EnrollmentToken> {
        let reject = |why| Err(StoreError::TokenRejected(why));
        let Some(token) = self.enrollment_token_by_hash(hash).await? else {
            return reject(TokenRejection::Unknown);
        };
        if let (Some(used_at), Some(used_by)) = (token.used_at, &token.used_by) {
            return reject(TokenRejection::AlreadyUsed {
                used_at,
                used_by: used_by.clone(),
            });
        }
        if now >= token.expires_at {
            return reject(TokenRejection::Expired {
                expires_at: token.expires_at,
            });
        }
        if let Some(glob) = &token.hostname_pattern
            && !compile(glob)?.matches(hostname)
        {
            return reject(TokenRejection::HostnameMismatch {
                pattern: glob.clone(),
                hostname: hostname.to_owned(),
            });
        }
        let updated = with_pool!(self, |pool| {
            sqlx::query(CONSUME_TOKEN)
                .bind(now)
                .bind(hostname)
                .bind(&token.id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(query_error("consuming enrollment token", &token.id))?;
        if updated == 0 {
            // Another consumer won between the read and the update.
            return match self.enrollment_token_by_hash(hash).await? {
                Some(EnrollmentToken {
                    used_at: Some(used_at),
                    used_by: Some(used_by),
                    ..
                }) => reject(TokenRejection::AlreadyUsed { used_at, used_by }),
                Some(t) => reject(TokenRejection::Expired {
                    expires_at: t.expires_at,
                }),
                None => reject(TokenRejection::Unknown),
            };
        }
        Ok(EnrollmentToken {
            used_at: Some(now),
            used_by: Some(hostname.to_owned()),
            ..token
        })
    }

    /// The token with this hash, used or not.
    pub async fn enrollment_token_by_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<EnrollmentToken>> {
        let row: Option<TokenRow> = with_pool!(self, |pool| {
            sqlx::query_as(TOKEN_COLUMNS_BY_HASH)
                .bind(hash.to_hex())
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error(
            "reading enrollment token",
            format_args!("{hash:?}"),
        ))?;
        row.map(EnrollmentToken::try_from).transpose()
    }

    /// Every enrollment token, newest first (used and expired ones included).
    pub async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>> {
        let rows: Vec<TokenRow> = with_pool!(self, |pool| {
            sqlx::query_as(LIST_TOKENS).fetch_all(pool).await
        })
        .map_err(query_error("listing enrollment tokens", "all"))?;
        rows.into_iter().map(EnrollmentToken::try_from).collect()
    }

    /// Deletes an enrollment token (revocation before use, or clean-up after).
    pub async fn delete_enrollment_token(&self, id: &str) -> Result<()> {
        let deleted = with_pool!(self, |pool| {
            sqlx::query(DELETE_TOKEN)
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(query_error("deleting enrollment token", id))?;
        if deleted == 0 {
            return Err(StoreError::NotFound {
                what: "enrollment token",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    /// Approves a hostname pattern, or changes whether an approved one is trusted (its
    /// `created_at` then stays the original).
    pub async fn put_pattern(&self, pattern: &ApprovedPattern) -> Result<()> {
        compile(&pattern.pattern)?;
        with_pool!(self, |pool| {
            sqlx::query(UPSERT_PATTERN)
                .bind(&pattern.pattern)
                .bind(pattern.trusted)
                .bind(pattern.created_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(query_error("approving hostname pattern", &pattern.pattern))?;
        Ok(())
    }

    /// Withdraws an approved hostname pattern.
    pub async fn remove_pattern(&self, pattern: &str) -> Result<()> {
        let deleted = with_pool!(self, |pool| {
            sqlx::query(DELETE_PATTERN)
                .bind(pattern)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(query_error("removing hostname pattern", pattern))?;
        if deleted == 0 {
            return Err(StoreError::NotFound {
                what: "hostname pattern",
                id: pattern.to_owned(),
            });
        }
        Ok(())
    }

    /// Every approved hostname pattern, in lexical order.
    pub async fn list_patterns(&self) -> Result<Vec<ApprovedPattern>> {
        let rows: Vec<PatternRow> = with_pool!(self, |pool| {
            sqlx::query_as(LIST_PATTERNS).fetch_all(pool).await
        })
        .map_err(query_error("listing hostname patterns", "all"))?;
        Ok(rows
            .into_iter()
            .map(|r| ApprovedPattern {
                pattern: r.pattern,
                trusted: r.trusted,
                created_at: r.created_at,
            })
            .collect())
    }
}
