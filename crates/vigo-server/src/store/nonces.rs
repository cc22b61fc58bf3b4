//! The replay ledger's table: accepted request nonces, shared by every replica on one
//! PostgreSQL and kept across restarts (see [`crate::replay`]). On SQLite it lives in
//! its own file, `replay.db`, beside `vigo.db`.

use std::collections::HashSet;

use uuid::Uuid;

use super::error::query_error;
use super::{Result, Store};

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
    /// Derived from the *signed* timestamp, so a replay has the same value: it is part
    /// of the key, which keeps inserts at the B-tree's right edge.
    pub expires_at: i64,
}

impl Store {
    /// Remembers `records` (one statement per 500) and says, for each, whether it is new
    /// (`true`) or was already there (`false`: a replay). The database decides, so the
    /// answer holds across restarts and across replicas. Duplicates within `records`
    /// count as replays after their first occurrence.
    pub async fn remember_nonces(&self, records: &[NonceRecord]) -> Result<Vec<bool>> {
        let mut inserted: HashSet<(i64, Vec<u8>, Vec<u8>)> = HashSet::new();
        // One statement per chunk and no explicit transaction: a statement is atomic on
        // its own, and the common batch (< NONCES_PER_INSERT rows) costs one round trip.
        let mut rows: Vec<(i64, Vec<u8>, Vec<u8>)> = Vec::with_capacity(records.len());
        for chunk in records.chunks(NONCES_PER_INSERT) {
            let got: Vec<(i64, Vec<u8>, Vec<u8>)> = with_ledger_pool!(self, |pool| {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO request_nonces (expires_at, envoy_id, nonce) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(r.expires_at)
                        .push_bind(r.envoy_id.as_bytes().to_vec())
                        .push_bind(r.nonce.to_vec());
                });
                insert.push(
                    " ON CONFLICT (expires_at, envoy_id, nonce) DO NOTHING \
                     RETURNING expires_at, envoy_id, nonce",
                );
                insert.build_query_as().fetch_all(pool).await
            })
            .map_err(query_error("remembering request nonces", records.len()))?;
            rows.extend(got);
        }
        inserted.extend(rows);
        Ok(records
            .iter()
            .map(|r| {
                inserted.remove(&(
                    r.expires_at,
                    r.envoy_id.as_bytes().to_vec(),
                    r.nonce.to_vec(),
                ))
            })
            .collect())
    }

    /// Forgets at most `limit` nonces that expired before `now`; returns how many.
    pub async fn prune_nonces(&self, now: i64, limit: u32) -> Result<u64> {
        with_ledger_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM request_nonces WHERE (expires_at, envoy_id, nonce) IN \
                 (SELECT expires_at, envoy_id, nonce FROM request_nonces \
                  WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
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
