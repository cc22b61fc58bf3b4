//! The replay ledger's table: accepted request nonces, shared by every replica on one
//! PostgreSQL and kept across restarts (see [`crate::replay`]). On SQLite it lives in
//! its own file, `replay.db`, beside `vigo.db`.

use std::collections::HashSet;

use uuid::Uuid;

use super::error::query_error;
use super::{Result, Store};

/// A random id for one insert statement, so its own rows can be told from rows that
/// were already there.
/// Fails (and the requests are refused) when the OS cannot give random bytes.
fn random_batch_id() -> std::result::Result<i64, sqlx::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(format!("drawing a batch id: {e}"))))?;
    Ok(i64::from_le_bytes(bytes))
}

/// Rows per multi-row `INSERT`: 4 parameters each.
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
    /// Remembers `records` and says, for each, whether it is new (`true`) or was already
    /// there (`false`: a replay). The database decides, so the answer holds across
    /// restarts and across replicas. Duplicates within `records` count as replays after
    /// their first occurrence.
    ///
    /// The common case — nothing in the batch was seen before, since this process's
    /// memory already refused its own replays — costs one multi-row `INSERT … ON CONFLICT
    /// DO NOTHING` per 500 rows. Only when the database reports fewer rows inserted than
    /// sent are that chunk's rows inserted one at a time, to say which were replays.
    pub async fn remember_nonces(&self, records: &[NonceRecord]) -> Result<Vec<bool>> {
        let mut fresh = Vec::with_capacity(records.len());
        for chunk in records.chunks(NONCES_PER_INSERT) {
            let batch = random_batch_id()
                .map_err(query_error("remembering request nonces", chunk.len()))?;
            let inserted = self
                .insert_nonces(chunk, batch)
                .await
                .map_err(query_error("remembering request nonces", chunk.len()))?;
            if inserted == chunk.len() as u64 {
                fresh.extend(std::iter::repeat_n(true, chunk.len()));
                continue;
            }
            // Rare: a replay from before a restart or from another replica. A row is new
            // exactly when the stored row carries this statement's batch id and no earlier
            // record of the chunk is the same.
            let mut seen = HashSet::new();
            for r in chunk {
                let first = seen.insert((r.expires_at, r.envoy_id, r.nonce));
                let ours = first
                    && self
                        .nonce_batch(r)
                        .await
                        .map_err(query_error("reading back a request nonce", r.envoy_id))?
                        == Some(batch);
                fresh.push(ours);
            }
        }
        Ok(fresh)
    }

    /// One multi-row insert marked with `batch`; how many rows were new.
    async fn insert_nonces(
        &self,
        chunk: &[NonceRecord],
        batch: i64,
    ) -> std::result::Result<u64, sqlx::Error> {
        with_ledger_pool!(self, |pool| {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO request_nonces (expires_at, envoy_id, nonce, batch) ",
            );
            insert.push_values(chunk, |mut row, r| {
                row.push_bind(r.expires_at)
                    .push_bind(r.envoy_id.as_bytes().as_slice())
                    .push_bind(r.nonce.as_slice())
                    .push_bind(batch);
            });
            insert.push(" ON CONFLICT (expires_at, envoy_id, nonce) DO NOTHING");
            insert
                .build()
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
    }
    /// The batch id stored with `r`'s row, if the row exists.
    async fn nonce_batch(&self, r: &NonceRecord) -> std::result::Result<Option<i64>, sqlx::Error> {
        with_ledger_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT batch FROM request_nonces \
                 WHERE expires_at = $1 AND envoy_id = $2 AND nonce = $3",
            )
            .bind(r.expires_at)
            .bind(r.envoy_id.as_bytes().as_slice())
            .bind(r.nonce.as_slice())
            .fetch_optional(pool)
            .await
        })
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
