//! The replay ledger's table: accepted request nonces, shared by every replica on one
//! database and kept across restarts (see [`crate::replay`]).

use std::collections::HashSet;

use uuid::Uuid;

use super::error::query_error;
use super::{Dialect, Result, Store};

/// Rows per multi-row `INSERT`: 3 parameters each.
const NONCES_PER_INSERT: usize = 500;

/// One accepted request to remember.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NonceRecord {
    /// The envoy that signed it (the nil UUID for registrations).
    pub envoy_id: Uuid,
    /// Its nonce.
    pub nonce: [u8; 16],
    /// When the row may be forgotten: the request's timestamp is out of the window.
    pub expires_at: i64,
}

impl Store {
    /// Remembers `records` in one transaction and says, for each, whether it is new
    /// (`true`) or was already there (`false`: a replay). The database decides, so the
    /// answer holds across restarts and across replicas. Duplicates within `records`
    /// count as replays after their first occurrence.
    pub async fn remember_nonces(&self, records: &[NonceRecord]) -> Result<Vec<bool>> {
        let mut inserted: HashSet<(String, Vec<u8>)> = HashSet::new();
        let rows: Vec<(String, Vec<u8>)> = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_write().await?;
                let mut out = Vec::new();
                for chunk in records.chunks(NONCES_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO request_nonces (envoy_id, nonce, expires_at) ",
                    );
                    insert.push_values(chunk, |mut row, r| {
                        row.push_bind(r.envoy_id.to_string())
                            .push_bind(r.nonce.to_vec())
                            .push_bind(r.expires_at);
                    });
                    insert.push(
                        " ON CONFLICT (envoy_id, nonce) DO NOTHING RETURNING envoy_id, nonce",
                    );
                    let got: Vec<(String, Vec<u8>)> =
                        insert.build_query_as().fetch_all(&mut *tx).await?;
                    out.extend(got);
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(out)
            }
            .await
        })
        .map_err(query_error("remembering request nonces", records.len()))?;
        inserted.extend(rows);
        Ok(records
            .iter()
            .map(|r| inserted.remove(&(r.envoy_id.to_string(), r.nonce.to_vec())))
            .collect())
    }

    /// Forgets at most `limit` nonces that expired before `now`; returns how many.
    pub async fn prune_nonces(&self, now: i64, limit: u32) -> Result<u64> {
        with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM request_nonces WHERE (envoy_id, nonce) IN \
                 (SELECT envoy_id, nonce FROM request_nonces WHERE expires_at < $1 LIMIT $2)",
            )
            .bind(now)
            .bind(i64::from(limit))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(query_error("pruning request nonces", now))
    }
}
