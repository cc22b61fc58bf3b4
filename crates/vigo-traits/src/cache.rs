//! Collector classes and the trait cache that decides what each check-in cycle re-runs.
//!
//! - **volatile** collectors run every cycle (`time`, `uptime`, `memory`, `ports`, …);
//! - **stable** ones every `--trait-refresh-cycles` cycles (default 10);
//! - **periodic** ones hourly (`cloud`).
//!
//! The cache is plain data (serialisable) so the agent can keep it in its state store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How often a collector's value changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Re-run every cycle.
    Volatile,
    /// Re-run every N cycles.
    Stable,
    /// Re-run hourly.
    Periodic,
}

/// How long periodic collectors are cached.
pub const PERIODIC_SECS: i64 = 3_600;

/// One cached collector value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// The cycle it was collected in.
    pub cycle: u64,
    /// When it was collected (Unix seconds).
    pub at_unix: i64,
}

/// Cached values by collector name, plus the cycle counter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraitCache {
    /// The current check-in cycle.
    pub cycle: u64,
    /// Cached values.
    pub entries: BTreeMap<String, Entry>,
}

impl TraitCache {
    /// Whether `name` of `class` must be collected again in cycle `cycle` at `now`.
    pub fn is_due(
        &self,
        name: &str,
        class: Class,
        cycle: u64,
        now_unix: i64,
        refresh_cycles: u64,
    ) -> bool {
        let Some(e) = self.entries.get(name) else {
            return true;
        };
        match class {
            Class::Volatile => true,
            Class::Stable => cycle.saturating_sub(e.cycle) >= refresh_cycles.max(1),
            Class::Periodic => now_unix - e.at_unix >= PERIODIC_SECS,
        }
    }

    /// Records fresh values collected in `cycle`.
    pub fn store(&mut self, values: &BTreeMap<String, Value>, cycle: u64, now_unix: i64) {
        self.cycle = cycle;
        for (name, value) in values {
            self.entries.insert(
                name.clone(),
                Entry {
                    value: value.clone(),
                    cycle,
                    at_unix: now_unix,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn classes_drive_refresh() {
        let mut c = TraitCache::default();
        assert!(c.is_due("os", Class::Stable, 0, 0, 10), "never collected");
        let vals: BTreeMap<String, Value> = [
            ("os".to_owned(), json!({})),
            ("cloud".to_owned(), json!({})),
            ("time".to_owned(), json!({})),
        ]
        .into();
        c.store(&vals, 0, 1_000);
        assert!(c.is_due("time", Class::Volatile, 1, 1_001, 10));
        assert!(!c.is_due("os", Class::Stable, 9, 1_001, 10));
        assert!(c.is_due("os", Class::Stable, 10, 1_001, 10));
        assert!(!c.is_due("cloud", Class::Periodic, 50, 1_000 + 3_599, 10));
        assert!(c.is_due("cloud", Class::Periodic, 50, 1_000 + 3_600, 10));
    }
}
