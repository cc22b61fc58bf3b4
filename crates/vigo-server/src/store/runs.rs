//! Convergence runs reported by envoys (`ReportResult`) and their per-resource results,
//! written together in one transaction; listings for `vigocli runs` and the web UI; and
//! retention.

use uuid::Uuid;
use vigo_core::Action;

use super::error::{corrupt, is_foreign_key_violation, query_error};
use super::{Dialect, Page, Result, Store, StoreError, parse_id, to_i64, to_u64};

/// Rows per multi-row `INSERT` of results: 8 parameters each, well under SQLite's 32766
/// and PostgreSQL's 65535 parameters per statement.
const RESULTS_PER_INSERT: usize = 500;

/// One run of one envoy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The run's id, UUID v7 (time-ordered), from the agent's report.
    pub id: Uuid,
    /// The envoy that ran it.
    pub envoy_id: Uuid,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// When it finished (Unix seconds).
    pub finished_at: i64,
    /// Its duration, as measured by the agent.
    pub duration_micros: u64,
    /// The config version it applied.
    pub policy_version: Option<String>,
    /// Whether it was a dry run (nothing changed).
    pub dry_run: bool,
    /// How many resources ended with each action.
    pub counts: ActionCounts,
}

/// How many resources of a run ended with each action: the REST API's type, stored as is.
pub use vigo_api::fleet::ActionCounts;

/// Counts the actions of `results`.
pub fn tally(results: &[ResourceResult]) -> ActionCounts {
    let mut counts = ActionCounts::default();
    for r in results {
        let slot = match r.action {
            Action::None => &mut counts.none,
            Action::Created => &mut counts.created,
            Action::Updated => &mut counts.updated,
            Action::Deleted => &mut counts.deleted,
            Action::Skipped => &mut counts.skipped,
            Action::Blocked => &mut counts.blocked,
            Action::Error => &mut counts.error,
        };
        *slot += 1;
    }
    counts
}

/// What one resource did in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceResult {
    /// The resource's id in the bundle (e.g. `file:/etc/motd`).
    pub resource_id: String,
    /// Its type (`file`, `package`, ...).
    pub resource_type: String,
    /// Its name.
    pub name: String,
    /// What happened.
    pub action: Action,
    /// The executor's message (empty when it had nothing to say).
    pub message: String,
    /// How long it took.
    pub duration_micros: u64,
}

/// One page of a run's results ([`Store::run_results_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsPage {
    /// The results, in the order the agent reported them.
    pub results: Vec<ResourceResult>,
    /// Where the next page starts (its first position), when there is one.
    pub next: Option<u64>,
}

/// The outcome of [`Store::record_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The run was stored.
    New,
    /// A run with this id was already stored (the agent re-sent it from its offline
    /// queue); nothing was written, and the report can be acknowledged.
    Replay,
}

/// The columns of a [`RunRow`], in order.
macro_rules! run_columns {
    () => {
        "id, envoy_id, started_at, finished_at, duration_micros, policy_version, dry_run, \
         n_none, n_created, n_updated, n_deleted, n_skipped, n_blocked, n_error"
    };
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    envoy_id: String,
    started_at: i64,
    finished_at: i64,
    duration_micros: i64,
    policy_version: Option<String>,
    dry_run: bool,
    n_none: i64,
    n_created: i64,
    n_updated: i64,
    n_deleted: i64,
    n_skipped: i64,
    n_blocked: i64,
    n_error: i64,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(r: RunRow) -> Result<Self> {
        let count = |n: i64| u32::try_from(n).map_err(|e| corrupt("run", &r.id, e));
        Ok(Run {
            id: parse_id("run", &r.id)?,
            envoy_id: parse_id("envoy", &r.envoy_id)?,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_micros: to_u64(r.duration_micros),
            policy_version: r.policy_version.clone(),
            dry_run: r.dry_run,
            counts: ActionCounts {
                none: count(r.n_none)?,
                created: count(r.n_created)?,
                updated: count(r.n_updated)?,
                deleted: count(r.n_deleted)?,
                skipped: count(r.n_skipped)?,
                blocked: count(r.n_blocked)?,
                error: count(r.n_error)?,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct ResultRow {
    run_id: String,
    seq: i64,
    resource_id: String,
    resource_type: String,
    name: String,
    action: String,
    message: String,
    duration_micros: i64,
}

impl TryFrom<ResultRow> for ResourceResult {
    type Error = StoreError;

    fn try_from(r: ResultRow) -> Result<Self> {
        let action = r
            .action
            .parse::<Action>()
            .map_err(|e| corrupt("run result", &format!("{}#{}", r.run_id, r.seq), e))?;
        Ok(ResourceResult {
            resource_id: r.resource_id,
            resource_type: r.resource_type,
            name: r.name,
            action,
            message: r.message,
            duration_micros: to_u64(r.duration_micros),
        })
    }
}

const INSERT_RUN: &str = concat!(
    "INSERT INTO runs (",
    run_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (id) DO NOTHING"
);

const INSERT_RESULTS: &str = "INSERT INTO run_results (run_id, seq, resource_id, resource_type, \
     name, action, message, duration_micros) ";

const SELECT_RUN: &str = concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1");

const RUNS_OF_ENVOY: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE envoy_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3"
);

const RESULTS_OF_RUN: &str = "SELECT run_id, seq, resource_id, resource_type, name, action, \
     message, duration_micros FROM run_results WHERE run_id = $1 ORDER BY seq";

const RESULTS_PAGE: &str = "SELECT run_id, seq, resource_id, resource_type, name, action, \
     message, duration_micros FROM run_results WHERE run_id = $1 AND seq >= $2 \
     ORDER BY seq LIMIT $3";

/// Deletes the oldest expired runs, at most `$2` of them (one pruning batch).
const PRUNE_RUNS: &str = "DELETE FROM runs WHERE id IN \
     (SELECT id FROM runs WHERE finished_at < $1 ORDER BY finished_at, id LIMIT $2)";

impl Store {
    /// Stores a run and its results (in order) in one transaction: either all of it is
    /// stored or none. A run whose id is already stored is [`Recorded::Replay`] and
    /// changes nothing; an unknown envoy is [`StoreError::NotFound`].
    pub async fn record_run(&self, run: &Run, results: &[ResourceResult]) -> Result<Recorded> {
        let run_id = run.id.to_string();
        let c = &run.counts;
        let outcome = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_write().await?;
                let inserted = sqlx::query(INSERT_RUN)
                    .bind(&run_id)
                    .bind(run.envoy_id.to_string())
                    .bind(run.started_at)
                    .bind(run.finished_at)
                    .bind(to_i64(run.duration_micros))
                    .bind(run.policy_version.as_deref())
                    .bind(run.dry_run)
                    .bind(i64::from(c.none))
                    .bind(i64::from(c.created))
                    .bind(i64::from(c.updated))
                    .bind(i64::from(c.deleted))
                    .bind(i64::from(c.skipped))
                    .bind(i64::from(c.blocked))
                    .bind(i64::from(c.error))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if inserted == 0 {
                    tx.rollback().await?;
                    return Ok::<_, sqlx::Error>(Recorded::Replay);
                }
                for (chunk_no, chunk) in results.chunks(RESULTS_PER_INSERT).enumerate() {
                    let first_seq = chunk_no * RESULTS_PER_INSERT;
                    let mut insert = sqlx::QueryBuilder::new(INSERT_RESULTS);
                    insert.push_values(chunk.iter().enumerate(), |mut row, (i, r)| {
                        row.push_bind(&run_id)
                            .push_bind(to_i64((first_seq + i) as u64))
                            .push_bind(&r.resource_id)
                            .push_bind(&r.resource_type)
                            .push_bind(&r.name)
                            .push_bind(r.action.as_str())
                            .push_bind(&r.message)
                            .push_bind(to_i64(r.duration_micros));
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(Recorded::New)
            }
            .await
        });
        match outcome {
            Ok(recorded) => Ok(recorded),
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound {
                what: "envoy",
                id: run.envoy_id.to_string(),
            }),
            Err(e) => Err(query_error("recording run", &run_id)(e)),
        }
    }

    /// The run with this id.
    pub async fn run(&self, id: Uuid) -> Result<Option<Run>> {
        let row: Option<RunRow> = with_pool!(self, |pool| {
            sqlx::query_as(SELECT_RUN)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await
        })
        .map_err(query_error("reading run", id))?;
        row.map(Run::try_from).transpose()
    }

    /// One page of an envoy's runs, newest first.
    pub async fn runs_of_envoy(&self, envoy_id: Uuid, page: Page) -> Result<Vec<Run>> {
        let rows: Vec<RunRow> = with_pool!(self, |pool| {
            sqlx::query_as(RUNS_OF_ENVOY)
                .bind(envoy_id.to_string())
                .bind(i64::from(page.limit))
                .bind(i64::from(page.offset))
                .fetch_all(pool)
                .await
        })
        .map_err(query_error("listing runs of envoy", envoy_id))?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// The results of a run, in the order the agent reported them (empty for an unknown
    /// run).
    pub async fn run_results(&self, run_id: Uuid) -> Result<Vec<ResourceResult>> {
        let rows: Vec<ResultRow> = with_pool!(self, |pool| {
            sqlx::query_as(RESULTS_OF_RUN)
                .bind(run_id.to_string())
                .fetch_all(pool)
                .await
        })
        .map_err(query_error("reading results of run", run_id))?;
        rows.into_iter().map(ResourceResult::try_from).collect()
    }

    /// One page of a run's results: at most `limit` (at least 1), starting at position
    /// `from` (0 = the first result).
    pub async fn run_results_page(
        &self,
        run_id: Uuid,
        from: u64,
        limit: u32,
    ) -> Result<ResultsPage> {
        let limit = limit.max(1);
        let rows: Vec<ResultRow> = with_pool!(self, |pool| {
            sqlx::query_as(RESULTS_PAGE)
                .bind(run_id.to_string())
                .bind(to_i64(from))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })
        .map_err(query_error("reading results of run", run_id))?;
        let next = rows.get(limit as usize).map(|r| to_u64(r.seq));
        let results = rows
            .into_iter()
            .take(limit as usize)
            .map(ResourceResult::try_from)
            .collect::<Result<_>>()?;
        Ok(ResultsPage { results, next })
    }

    /// Deletes at most `batch` of the runs (and their results) that finished before
    /// `finished_before`, oldest first, in one transaction; returns how many runs were
    /// deleted. Call it again until it deletes fewer than `batch`: each call holds the
    /// write lock only for one batch.
    pub async fn prune_runs(&self, finished_before: i64, batch: u32) -> Result<u64> {
        with_pool!(self, |pool| {
            async {
                // Results go with their runs (ON DELETE CASCADE).
                let mut tx = pool.begin_write().await?;
                let deleted = sqlx::query(PRUNE_RUNS)
                    .bind(finished_before)
                    .bind(i64::from(batch.max(1)))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>(deleted)
            }
            .await
        })
        .map_err(query_error(
            "pruning runs",
            format_args!("finished before {finished_before}"),
        ))
    }
}
