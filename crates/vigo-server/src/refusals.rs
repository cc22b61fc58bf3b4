//! The audit trail of refused requests, bounded so that it cannot be flooded and cannot
//! be blinded.
//!
//! Every refusal (an unknown, revoked or expired API token, a forbidden call, a refused
//! registration, a refused publish) names a **source** (the peer address) and a
//! **principal** (who was refused: a stored token's name, or what an unauthenticated
//! caller claimed to be, such as `anonymous` or the hostname of a registration).
//!
//! Within each minute-long window a refusal is written to the audit log in full when
//!
//! - its (source, principal) pair has written fewer than [`PER_PAIR`] entries, and
//! - its source has written fewer than [`PER_SOURCE`] entries — or its principal is
//!   [`Principal::Known`] (a stored token: a bounded set that the caller cannot invent)
//!   and that principal has written fewer than [`PER_PRINCIPAL`].
//!
//! So junk tokens from one address fill only that address's budget: a revoked admin
//! token tried from the same address still gets its own entries. Nothing is dropped: a
//! refusal that is not written in full is counted in its source's **aggregate**, written
//! when the window ends as one `audit.refusals_aggregated` entry ("N refusals from X in
//! the last minute") that lists the principals refused (the first [`MAX_NAMED`] by name,
//! the rest counted) and the actions. Memory is bounded too: at most [`MAX_TRACKED`]
//! pairs, sources and principals are tracked per window; refusals past that are counted
//! in an aggregate for all other sources.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::store::{NewAuditEntry, Store};

/// Full entries per (source, principal) pair per window.
pub const PER_PAIR: u32 = 10;
/// Full entries per source per window (known principals excepted).
pub const PER_SOURCE: u32 = 30;
/// Full entries per known principal per window, whatever its sources.
pub const PER_PRINCIPAL: u32 = 30;
/// Pairs, sources and principals tracked per window; past this, refusals are aggregated.
pub const MAX_TRACKED: usize = 4096;
/// Principals named in one aggregate entry; the rest are counted.
pub const MAX_NAMED: usize = 32;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Who was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// An identity the server stores (an API token's name): the caller cannot make up
    /// new ones, so each keeps its own budget whatever the source's.
    Known(String),
    /// What an unauthenticated caller claimed (`anonymous`, a registration's hostname).
    Claimed(String),
}

impl Principal {
    /// The name refused (a token's name, `anonymous`, a claimed hostname).
    pub fn name(&self) -> &str {
        match self {
            Principal::Known(n) | Principal::Claimed(n) => n,
        }
    }
}

/// One refused request.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The audit action (`auth.refused`, `envoy.register_refused`, …).
    pub action: &'static str,
    /// The audit actor (who the entry is written as).
    pub actor: String,
    /// Who was refused, for the budgets.
    pub principal: Principal,
    /// The peer address, when known.
    pub source: Option<IpAddr>,
    /// The audit target (a path, a hostname, a version).
    pub target: Option<String>,
    /// The audit detail (JSON object).
    pub detail: serde_json::Value,
}

/// What the window decided for one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Write the entry in full.
    Write,
    /// Counted in its source's aggregate.
    Aggregated,
}

/// The refusals of one source that were not written in full this window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    /// How many.
    pub count: u64,
    /// Per principal (the first [`MAX_NAMED`]).
    pub principals: BTreeMap<String, u64>,
    /// Refusals whose principal was past [`MAX_NAMED`].
    pub principals_unnamed: u64,
    /// Per audit action.
    pub actions: BTreeMap<&'static str, u64>,
}

impl Aggregate {
    fn add(&mut self, principal: &Principal, action: &'static str) {
        self.count += 1;
        *self.actions.entry(action).or_default() += 1;
        if let Some(n) = self.principals.get_mut(principal.name()) {
            *n += 1;
        } else if self.principals.len() < MAX_NAMED {
            self.principals.insert(principal.name().to_owned(), 1);
        } else {
            self.principals_unnamed += 1;
        }
    }
}

/// Where an aggregate's refusals came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKey {
    /// One address.
    Addr(IpAddr),
    /// Requests without a known peer address.
    Unknown,
    /// Every source past [`MAX_TRACKED`].
    Others,
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceKey::Addr(a) => write!(f, "{a}"),
            SourceKey::Unknown => f.write_str("unknown address"),
            SourceKey::Others => f.write_str("other addresses"),
        }
    }
}

/// One window's counters: the pure part of the refusal audit, driven by explicit
/// times so tests control time.
#[derive(Debug)]
pub struct Window {
    start: OffsetDateTime,
    pairs: HashMap<(SourceKey, Principal), u32>,
    sources: HashMap<SourceKey, u32>,
    principals: HashMap<String, u32>,
    aggregates: HashMap<SourceKey, Aggregate>,
}

impl Window {
    /// A window starting at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Window {
            start,
            pairs: HashMap::new(),
            sources: HashMap::new(),
            principals: HashMap::new(),
            aggregates: HashMap::new(),
        }
    }

    /// Ends the window when [`WINDOW`] has passed at `at`, returning its aggregates.
    pub fn roll(&mut self, at: OffsetDateTime) -> Vec<(SourceKey, Aggregate)> {
        if at - self.start < WINDOW {
            return Vec::new();
        }
        let ended = std::mem::replace(self, Window::new(at));
        let mut out: Vec<_> = ended.aggregates.into_iter().collect();
        out.sort_by_key(|(k, _)| *k);
        out
    }

    /// Decides whether `refusal` is written in full or aggregated (after [`Window::roll`]).
    pub fn admit(&mut self, refusal: &Refusal) -> Admission {
        let source = refusal.source.map_or(SourceKey::Unknown, SourceKey::Addr);
        let pair_key = (source, refusal.principal.clone());
        let pair = self.pairs.get(&pair_key).copied().unwrap_or(0);
        let by_source = self.sources.get(&source).copied().unwrap_or(0);
        let by_principal = match &refusal.principal {
            Principal::Known(n) => Some(self.principals.get(n).copied().unwrap_or(0)),
            Principal::Claimed(_) => None,
        };
        let room = self.pairs.len() < MAX_TRACKED || self.pairs.contains_key(&pair_key);
        let budget = by_source < PER_SOURCE || by_principal.is_some_and(|n| n < PER_PRINCIPAL);
        let tracked = self.sources.len() < MAX_TRACKED || self.sources.contains_key(&source);
        if room && tracked && pair < PER_PAIR && budget {
            *self.pairs.entry(pair_key).or_default() += 1;
            *self.sources.entry(source).or_default() += 1;
            if let Principal::Known(n) = &refusal.principal
                && (self.principals.len() < MAX_TRACKED || self.principals.contains_key(n))
            {
                *self.principals.entry(n.clone()).or_default() += 1;
            }
            return Admission::Write;
        }
        let key = if self.aggregates.len() < MAX_TRACKED || self.aggregates.contains_key(&source) {
            source
        } else {
            SourceKey::Others
        };
        self.aggregates
            .entry(key)
            .or_default()
            .add(&refusal.principal, refusal.action);
        Admission::Aggregated
    }
}

/// The refusal audit of a running server, shared by the REST API and enrollment (gRPC
/// and REST registrations).
#[derive(Debug)]
pub struct RefusalAudit {
    store: Store,
    window: Mutex<Window>,
    clock: Clock,
}

impl RefusalAudit {
    /// A refusal audit writing to `store`, its windows and entries timed by `clock`.
    pub fn new(store: Store, clock: Clock) -> Arc<Self> {
        Arc::new(RefusalAudit {
            store,
            window: Mutex::new(Window::new(clock.now())),
            clock,
        })
    }

    /// Records a refusal: written in full or counted for its source's aggregate. Never
    /// fails the request: a write error is logged.
    pub async fn record(&self, refusal: Refusal) {
        let (admission, ended) = {
            let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            let ended = window.roll(self.clock.now());
            (window.admit(&refusal), ended)
        };
        self.write_aggregates(ended).await;
        metrics::counter!(
            "vigo_audit_refusals_total",
            "written" => if admission == Admission::Write { "full" } else { "aggregated" }
        )
        .increment(1);
        if admission == Admission::Aggregated {
            return;
        }
        let mut detail = refusal.detail;
        if let (Some(map), Some(source)) = (detail.as_object_mut(), refusal.source) {
            map.entry("peer")
                .or_insert_with(|| source.to_string().into());
        }
        self.append(NewAuditEntry {
            at: self.clock.unix(),
            actor: refusal.actor,
            action: refusal.action.to_owned(),
            target: refusal.target,
            detail,
        })
        .await;
    }

    /// Writes the aggregates of a window that has ended; called every [`WINDOW`] by
    /// [`RefusalAudit::spawn_flusher`] so that a quiet minute still reports.
    pub async fn flush(&self) {
        let ended = self
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .roll(self.clock.now());
        self.write_aggregates(ended).await;
    }

    /// Writes the aggregates of the current window whether or not it has ended (at
    /// shutdown, so that nothing counted is lost).
    pub async fn flush_all(&self) {
        let ended = {
            let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            let start = window.start;
            window.roll(start + WINDOW)
        };
        self.write_aggregates(ended).await;
    }

    /// Flushes every [`WINDOW`] until `stopped` turns true, then once more.
    pub fn spawn_flusher(self: Arc<Self>, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WINDOW);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => self.flush().await,
                    _ = stopped.changed() => break,
                }
            }
        })
    }

    async fn write_aggregates(&self, ended: Vec<(SourceKey, Aggregate)>) {
        for (source, agg) in ended {
            let entry = NewAuditEntry {
                at: self.clock.unix(),
                actor: "refusals".to_owned(),
                action: "audit.refusals_aggregated".to_owned(),
                target: Some(source.to_string()),
                detail: json!({
                    "summary": format!(
                        "{} refusals from {source} in the last minute (not written one by one)",
                        agg.count
                    ),
                    "count": agg.count,
                    "window_secs": WINDOW.as_secs(),
                    "principals": agg.principals,
                    "principals_unnamed": agg.principals_unnamed,
                    "actions": agg.actions,
                }),
            };
            self.append(entry).await;
        }
    }

    async fn append(&self, entry: NewAuditEntry) {
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(action = %entry.action, "appending to the audit log: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(source: &str, principal: Principal) -> Refusal {
        Refusal {
            action: "auth.refused",
            actor: principal.name().to_owned(),
            principal,
            source: Some(source.parse().unwrap()),
            target: None,
            detail: json!({}),
        }
    }

    #[test]
    fn junk_from_one_source_does_not_hide_a_known_principal() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut w = Window::new(t);
        let junk = refusal("192.0.2.1", Principal::Claimed("anonymous".into()));
        let written = (0..1000)
            .filter(|_| w.admit(&junk) == Admission::Write)
            .count();
        assert_eq!(written, PER_PAIR as usize);
        // Many claimed hostnames fill the source's budget…
        for i in 0..100 {
            w.admit(&refusal("192.0.2.1", Principal::Claimed(format!("h{i}"))));
        }
        assert_eq!(
            w.admit(&refusal("192.0.2.1", Principal::Claimed("fresh".into()))),
            Admission::Aggregated
        );
        // …but the revoked admin token still gets its entries, up to its pair budget.
        let admin = refusal("192.0.2.1", Principal::Known("admin".into()));
        for _ in 0..PER_PAIR {
            assert_eq!(w.admit(&admin), Admission::Write);
        }
        assert_eq!(w.admit(&admin), Admission::Aggregated);
        // Another source is untouched.
        assert_eq!(
            w.admit(&refusal(
                "192.0.2.2",
                Principal::Claimed("anonymous".into())
            )),
            Admission::Write
        );
    }

    #[test]
    fn nothing_is_dropped_the_window_aggregates_who_was_refused() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut w = Window::new(t);
        for i in 0..200 {
            w.admit(&refusal(
                "192.0.2.7",
                Principal::Claimed(format!("host{i}")),
            ));
        }
        assert!(w.roll(t + Duration::from_secs(59)).is_empty());
        let ended = w.roll(t + WINDOW);
        assert_eq!(ended.len(), 1);
        let (source, agg) = &ended[0];
        assert_eq!(source.to_string(), "192.0.2.7");
        assert_eq!(agg.count, 200 - u64::from(PER_SOURCE));
        assert_eq!(agg.principals.len(), MAX_NAMED);
        assert_eq!(
            agg.principals.values().sum::<u64>() + agg.principals_unnamed,
            agg.count
        );
        assert_eq!(agg.actions["auth.refused"], agg.count);
        // The next window starts afresh.
        assert_eq!(
            w.admit(&refusal("192.0.2.7", Principal::Claimed("host0".into()))),
            Admission::Write
        );
    }

    #[test]
    fn tracking_is_bounded() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut w = Window::new(t);
        for i in 0..(MAX_TRACKED as u32 + 500) {
            let addr = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let r = Refusal {
                source: Some(IpAddr::V4(addr)),
                ..refusal("192.0.2.1", Principal::Claimed("x".into()))
            };
            w.admit(&r);
        }
        assert!(w.pairs.len() <= MAX_TRACKED && w.sources.len() <= MAX_TRACKED);
        let ended = w.roll(t + WINDOW);
        let total: u64 = ended.iter().map(|(_, a)| a.count).sum();
        assert_eq!(total, 500);
    }
}
