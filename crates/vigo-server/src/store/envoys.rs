//! Enrolled envoys: registration (a forced re-registration revokes the hostname's
//! previous envoy in the same transaction), lookups and listings for the REST API,
//! revocation, and the batched last-seen and traits flushes of the check-in path.

use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use vigo_lang::glob::Pattern;

use super::error::{corrupt, is_unique_violation, query_error};
use super::{Dialect, Result, Store, StoreError, parse_id};

/// Whether an envoy may check in (the API's type).
pub use vigo_api::fleet::EnvoyStatus;

/// What `Register` stores about a new envoy. The caller allocates the id, since the
/// client certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnvoy {
    /// The envoy's id (UUID v4).
    pub id: Uuid,
    /// Its hostname as it reported it; compared case-insensitively.
    pub hostname: String,
    /// Its ed25519 public key, which verifies every later request.
    pub public_key: [u8; 32],
    /// Serial number of the client certificate issued to it (hex).
    pub cert_serial: String,
    /// That certificate, PEM.
    pub cert_pem: String,
    /// Its environment, when known at enrollment.
    pub environment: Option<String>,
    /// The address it registered from.
    pub address: Option<String>,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// When (Unix seconds).
    pub enrolled_at: i64,
}

/// What registration does when the hostname already has an active envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reenrollment {
    /// Fail with [`StoreError::HostnameEnrolled`].
    Refuse,
    /// Revoke the previous envoy (`--force`), in the same transaction as the insert.
    RevokePrevious,
}

/// The outcome of [`Store::register_envoy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The envoy as stored.
    pub envoy: Envoy,
    /// The envoy of the same hostname that this registration revoked, if any.
    pub revoked: Option<Uuid>,
}

/// An enrolled envoy as stored. Its traits document is not included (it can be large);
/// read it with [`Store::envoy_traits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envoy {
    /// Its id.
    pub id: Uuid,
    /// Its hostname.
    pub hostname: String,
    /// Its ed25519 public key.
    pub public_key: [u8; 32],
    /// Serial number of its client certificate (hex).
    pub cert_serial: String,
    /// Its client certificate, PEM.
    pub cert_pem: String,
    /// Its environment, when known.
    pub environment: Option<String>,
    /// The address it registered from.
    pub address: Option<String>,
    /// The agent's version at registration.
    pub agent_version: Option<String>,
    /// Active or revoked.
    pub status: EnvoyStatus,
    /// When it enrolled (Unix seconds).
    pub enrolled_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Its last check-in, as of the last flush.
    pub last_seen_at: Option<i64>,
    /// The config version it last applied.
    pub policy_version: Option<String>,
    /// SHA-256 (hex) of its latest traits document.
    pub traits_sha256: Option<String>,
}

/// Which envoys [`Store::list_envoys`] returns, ordered by hostname then id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvoyFilter {
    /// Only envoys with this status.
    pub status: Option<EnvoyStatus>,
    /// Only hostnames matching this glob (`*`, `?`, `[a-z]`; case-insensitive), the same
    /// syntax as hostcrate `match:` patterns.
    pub hostname: Option<String>,
    /// At most this many (all when `None`).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: u32,
}

/// One envoy's check-in, for [`Store::touch_envoys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoySeen {
    /// The envoy.
    pub id: Uuid,
    /// When it checked in (Unix seconds). An older time never overwrites a newer one.
    pub last_seen_at: i64,
    /// The config version it reported; `None` keeps the stored one.
    pub policy_version: Option<String>,
}

/// One envoy's latest traits, for [`Store::store_traits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyTraits {
    /// The envoy.
    pub id: Uuid,
    /// The traits as a JSON document.
    pub traits_json: String,
}

/// The columns of an [`EnvoyRow`], in order.
macro_rules! envoy_columns {
    () => {
        "id, hostname, public_key, cert_serial, cert_pem, environment, address, agent_version, \
         status, enrolled_at, revoked_at, last_seen_at, policy_version, traits_sha256"
    };
}

#[derive(sqlx::FromRow)]
struct EnvoyRow {
    id: String,
    hostname: String,
    public_key: String,
    cert_serial: String,
    cert_pem: String,
    environment: Option<String>,
    address: Option<String>,
    agent_version: Option<String>,
    status: String,
    enrolled_at: i64,
    revoked_at: Option<i64>,
    last_seen_at: Option<i64>,
    policy_version: Option<String>,
    traits_sha256: Option<String>,
}

impl TryFrom<EnvoyRow> for Envoy {
    type Error = StoreError;

    fn try_from(r: EnvoyRow) -> Result<Self> {
        let id = parse_id("envoy", &r.id)?;
        let mut public_key = [0u8; 32];
        hex::decode_to_slice(&r.public_key, &mut public_key)
            .map_err(|e| corrupt("envoy", &r.id, format_args!("public_key: {e}")))?;
        let status = EnvoyStatus::parse(&r.status)
            .ok_or_else(|| corrupt("envoy", &r.id, format_args!("status `{}`", r.status)))?;
        Ok(Envoy {
            id,
            hostname: r.hostname,
            public_key,
            cert_serial: r.cert_serial,
            cert_pem: r.cert_pem,
            environment: r.environment,
            address: r.address,
            agent_version: r.agent_version,
            status,
            enrolled_at: r.enrolled_at,
            revoked_at: r.revoked_at,
            last_seen_at: r.last_seen_at,
            policy_version: r.policy_version,
            traits_sha256: r.traits_sha256,
        })
    }
}

const INSERT_ENVOY: &str = "INSERT INTO envoys (id, hostname, public_key, cert_serial, cert_pem, \
     environment, address, agent_version, status, enrolled_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9)";

const REVOKE_HOSTNAME: &str = "UPDATE envoys SET status = 'revoked', revoked_at = $1 \
     WHERE lower(hostname) = lower($2) AND status = 'active' RETURNING id";

const SELECT_ENVOY: &str = concat!("SELECT ", envoy_columns!(), " FROM envoys WHERE id = $1");

const SELECT_ACTIVE_BY_HOSTNAME: &str = concat!(
    "SELECT ",
    envoy_columns!(),
    " FROM envoys WHERE lower(hostname) = lower($1) AND status = 'active'"
);

const LIST_ENVOYS: &str = concat!(
    "SELECT ",
    envoy_columns!(),
    " FROM envoys WHERE ($1 IS NULL OR status = $1) \
     AND ($2 IS NULL OR lower(hostname) LIKE $2 ESCAPE '\\') \
     ORDER BY lower(hostname), id LIMIT $3 OFFSET $4"
);

const ENVOYS_CHANGED_SINCE: &str = concat!(
    "SELECT ",
    envoy_columns!(),
    " FROM envoys WHERE enrolled_at >= $1 OR revoked_at >= $1"
);

const COUNT_ENVOYS: &str = "SELECT count(*) FROM envoys WHERE ($1 IS NULL OR status = $1)";

const REVOKE_ENVOY: &str =
    "UPDATE envoys SET status = 'revoked', revoked_at = $1 WHERE id = $2 AND status = 'active'";

const TOUCH_ENVOY: &str = "UPDATE envoys SET \
     last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < $1 THEN $1 \
                         ELSE last_seen_at END, \
     policy_version = COALESCE($2, policy_version) \
     WHERE id = $3 AND status = 'active'";

const STORE_TRAITS: &str = "UPDATE envoys SET traits = $1, traits_sha256 = $2 \
     WHERE id = $3 AND (traits_sha256 IS NULL OR traits_sha256 <> $2)";

const SELECT_TRAITS: &str = "SELECT traits FROM envoys WHERE id = $1";

impl Store {
    /// Stores a newly enrolled envoy. When the hostname already has an active envoy,
    /// `existing` decides: refuse ([`StoreError::HostnameEnrolled`]) or revoke it in the
    /// same transaction (its `revoked_at` is the new envoy's `enrolled_at`). An id that
    /// already exists (even revoked) is [`StoreError::AlreadyExists`]: a revoked envoy
    /// never comes back under its id.
    pub async fn register_envoy(
        &self,
        new: &NewEnvoy,
        existing: Reenrollment,
    ) -> Result<Registered> {
        const OP: &str = "registering envoy";
        if new.hostname.trim().is_empty() {
            return Err(StoreError::Invalid {
                what: "hostname",
                value: new.hostname.clone(),
                reason: "empty".into(),
            });
        }
        let id = new.id.to_string();
        let public_key = hex::encode(new.public_key);
        let outcome = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_write().await?;
                let revoked: Option<String> = match existing {
                    Reenrollment::Refuse => None,
                    Reenrollment::RevokePrevious => {
                        sqlx::query_scalar(REVOKE_HOSTNAME)
                            .bind(new.enrolled_at)
                            .bind(&new.hostname)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                };
                sqlx::query(INSERT_ENVOY)
                    .bind(&id)
                    .bind(&new.hostname)
                    .bind(&public_key)
                    .bind(&new.cert_serial)
                    .bind(&new.cert_pem)
                    .bind(new.environment.as_deref())
                    .bind(new.address.as_deref())
                    .bind(new.agent_version.as_deref())
                    .bind(new.enrolled_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(revoked)
            }
            .await
        });
        match outcome {
            Ok(revoked) => Ok(Registered {
                envoy: Envoy {
                    id: new.id,
                    hostname: new.hostname.clone(),
                    public_key: new.public_key,
                    cert_serial: new.cert_serial.clone(),
                    cert_pem: new.cert_pem.clone(),
                    environment: new.environment.clone(),
                    address: new.address.clone(),
                    agent_version: new.agent_version.clone(),
                    status: EnvoyStatus::Active,
                    enrolled_at: new.enrolled_at,
                    revoked_at: None,
                    last_seen_at: None,
                    policy_version: None,
                    traits_sha256: None,
                },
                revoked: revoked.map(|r| parse_id("envoy", &r)).transpose()?,
            }),
            Err(e) if is_unique_violation(&e) => {
                // The transaction rolled back; find out which key collided.
                if self.envoy(new.id).await?.is_some() {
                    return Err(StoreError::AlreadyExists { what: "envoy", id });
                }
                match self.active_envoy_by_hostname(&new.hostname).await? {
                    Some(holder) => Err(StoreError::HostnameEnrolled {
                        hostname: new.hostname.clone(),
                        envoy_id: holder.id,
                    }),
                    None => Err(query_error(OP, &new.hostname)(e)),
                }
            }
            Err(e) => Err(query_error(OP, &new.hostname)(e)),
        }
    }

    /// The envoy with this id, active or revoked.
    pub async fn envoy(&self, id: Uuid) -> Result<Option<Envoy>> {
        let row: Option<EnvoyRow> = with_pool!(self, |pool| {
            sqlx::query_as(SELECT_ENVOY)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error("reading envoy", id))?;
        row.map(Envoy::try_from).transpose()
    }

    /// The active envoy holding `hostname` (case-insensitive), if any.
    pub async fn active_envoy_by_hostname(&self, hostname: &str) -> Result<Option<Envoy>> {
        let row: Option<EnvoyRow> = with_pool!(self, |pool| {
            sqlx::query_as(SELECT_ACTIVE_BY_HOSTNAME)
                .bind(hostname)
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error("reading envoy by hostname", hostname))?;
        row.map(Envoy::try_from).transpose()
    }

    /// Envoys matching `filter`, ordered by hostname (case-insensitive) then id. Globs
    /// made of `*` and `?` only are evaluated by the database, with the page; a glob with
    /// a `[set]` is evaluated here, over the rows of the other filters.
    pub async fn list_envoys(&self, filter: &EnvoyFilter) -> Result<Vec<Envoy>> {
        let pattern = filter
            .hostname
            .as_deref()
            .map(|glob| {
                Pattern::new(glob).map_err(|e| StoreError::Invalid {
                    what: "hostname pattern",
                    value: glob.to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let like = pattern.as_ref().and_then(|p| like_pattern(p.as_str()));
        let filter_here = pattern.as_ref().filter(|_| like.is_none());
        let limit = filter.limit.map_or(i64::MAX, i64::from);
        let offset = i64::from(filter.offset);
        let (sql_limit, sql_offset) = match filter_here {
            None => (limit, offset),
            Some(_) => (i64::MAX, 0),
        };
        let status = filter.status.map(EnvoyStatus::as_str);
        let rows: Vec<EnvoyRow> = with_pool!(self, |pool| {
            sqlx::query_as(LIST_ENVOYS)
                .bind(status)
                .bind(like.as_deref())
                .bind(sql_limit)
                .bind(sql_offset)
                .fetch_all(pool)
                .await
        })
        .map_err(query_error(
            "listing envoys",
            format_args!(
                "status {}, hostname {}",
                status.unwrap_or("any"),
                filter.hostname.as_deref().unwrap_or("*")
            ),
        ))?;
        let envoys = rows.into_iter().map(Envoy::try_from);
        match filter_here {
            None => envoys.collect(),
            Some(p) => envoys
                .filter(|e| e.as_ref().map_or(true, |e| p.matches(&e.hostname)))
                .skip(filter.offset as usize)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .collect(),
        }
    }

    /// The envoys enrolled or revoked at or after `since` (Unix seconds): what another
    /// replica may have changed, for a resync that does not re-read the whole fleet.
    pub async fn envoys_changed_since(&self, since: i64) -> Result<Vec<Envoy>> {
        let rows: Vec<EnvoyRow> = with_pool!(self, |pool| {
            sqlx::query_as(ENVOYS_CHANGED_SINCE)
                .bind(since)
                .fetch_all(pool)
                .await
        })
        .map_err(query_error(
            "listing changed envoys",
            format_args!("since {since}"),
        ))?;
        rows.into_iter().map(Envoy::try_from).collect()
    }

    /// How many envoys have `status` (all envoys when `None`).
    pub async fn count_envoys(&self, status: Option<EnvoyStatus>) -> Result<u64> {
        let status = status.map(EnvoyStatus::as_str);
        let n: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar(COUNT_ENVOYS)
                .bind(status)
                .fetch_one(pool)
                .await
        })
        .map_err(query_error("counting envoys", status.unwrap_or("any")))?;
        Ok(super::to_u64(n))
    }

    /// Revokes the envoy: it can no longer check in, and its id is never reused. Revoking
    /// a revoked envoy changes nothing. Returns the envoy as stored afterwards.
    pub async fn revoke_envoy(&self, id: Uuid, now: i64) -> Result<Envoy> {
        with_pool!(self, |pool| {
            sqlx::query(REVOKE_ENVOY)
                .bind(now)
                .bind(id.to_string())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(query_error("revoking envoy", id))?;
        self.envoy(id).await?.ok_or_else(|| StoreError::NotFound {
            what: "envoy",
            id: id.to_string(),
        })
    }

    /// Flushes a batch of check-ins (last-seen time, applied policy version) in one
    /// transaction. Unknown and revoked envoys are skipped. Returns how many envoys were
    /// updated.
    pub async fn touch_envoys(&self, seen: &[EnvoySeen]) -> Result<u64> {
        if seen.is_empty() {
            return Ok(0);
        }
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_write().await?;
                let mut updated = 0;
                for s in seen {
                    updated += sqlx::query(TOUCH_ENVOY)
                        .bind(s.last_seen_at)
                        .bind(s.policy_version.as_deref())
                        .bind(s.id.to_string())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(updated)
            }
            .await
        })
        .map_err(query_error(
            "flushing check-ins",
            format_args!("{} envoys", seen.len()),
        ))
    }

    /// Stores a batch of traits documents in one transaction, each replacing the envoy's
    /// previous one. A document identical (same SHA-256) to the stored one is not
    /// rewritten. Every document must be valid JSON, or nothing is written. Returns how
    /// many envoys' traits changed.
    pub async fn store_traits(&self, traits: &[EnvoyTraits]) -> Result<u64> {
        if traits.is_empty() {
            return Ok(0);
        }
        let mut hashed = Vec::with_capacity(traits.len());
        for t in traits {
            if let Err(e) = serde_json::from_str::<IgnoredAny>(&t.traits_json) {
                return Err(StoreError::Invalid {
                    what: "traits document",
                    value: format!("of envoy {}", t.id),
                    reason: e.to_string(),
                });
            }
            let sha = hex::encode(Sha256::digest(t.traits_json.as_bytes()));
            hashed.push((t.id.to_string(), t.traits_json.as_str(), sha));
        }
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_write().await?;
                let mut changed = 0;
                for (id, json, sha) in &hashed {
                    changed += sqlx::query(STORE_TRAITS)
                        .bind(*json)
                        .bind(sha)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(changed)
            }
            .await
        })
        .map_err(query_error(
            "storing traits",
            format_args!("{} envoys", traits.len()),
        ))
    }

    /// The envoy's latest traits document (`None` before its first report).
    pub async fn envoy_traits(&self, id: Uuid) -> Result<Option<String>> {
        let row: Option<Option<String>> = with_pool!(self, |pool| {
            sqlx::query_scalar(SELECT_TRAITS)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error("reading traits", id))?;
        row.ok_or_else(|| StoreError::NotFound {
            what: "envoy",
            id: id.to_string(),
        })
    }
}

/// The SQL `LIKE` pattern (escape character `\`) equivalent to a hostname glob compared
/// against `lower(hostname)`, or `None` when the glob has a `[set]`, which `LIKE` cannot
/// express.
fn like_pattern(glob: &str) -> Option<String> {
    let mut like = String::with_capacity(glob.len());
    for c in glob.chars() {
        match c {
            '[' => return None,
            '*' => like.push('%'),
            '?' => like.push('_'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            c => like.push(c.to_ascii_lowercase()),
        }
    }
    Some(like)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn globs_become_like_patterns() {
        assert_eq!(like_pattern("Web-*.LAN").as_deref(), Some("web-%.lan"));
        assert_eq!(like_pattern("db?").as_deref(), Some("db_"));
        assert_eq!(like_pattern("a_b%c\\").as_deref(), Some("a\\_b\\%c\\\\"));
        assert_eq!(like_pattern("web[0-9]"), None);
    }
}
