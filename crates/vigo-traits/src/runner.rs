//! Running collectors in parallel, each under its own timeout.
//!
//! Each collector runs on its own thread. The runner waits for every result until that
//! collector's deadline; one that fails or is still running at its deadline is reported
//! under `_errors` and left behind (a thread cannot be killed; it ends with the process),
//! and never delays or affects the others.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::collectors::{Collector, Traits};
use crate::ctx::Ctx;
use crate::error::TraitError;

/// What a run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The collected values, typed.
    pub values: Traits,
    /// Failed or timed-out collectors, with the reason (the error and its causes).
    pub errors: BTreeMap<String, String>,
    /// How long each collector took, in microseconds (timed-out ones: their timeout).
    pub timing: BTreeMap<String, u64>,
}

impl Report {
    /// The JSON document `vigo traits` prints: collectors, then `_errors` (when any) and
    /// `_timing` (when asked).
    pub fn to_json(&self, with_timing: bool) -> Value {
        let mut out = match self.values.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if !self.errors.is_empty() {
            out.insert(
                "_errors".into(),
                Value::Object(
                    self.errors
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                ),
            );
        }
        if with_timing {
            out.insert(
                "_timing".into(),
                Value::Object(
                    self.timing
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(*v)))
                        .collect(),
                ),
            );
        }
        Value::Object(out)
    }
}

/// Runs `collectors` in parallel against `ctx`.
pub fn run(collectors: &[Collector], ctx: &Ctx) -> Report {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    for c in collectors {
        let thread_tx = tx.clone();
        let ctx = ctx.clone();
        let (name, collect) = (c.name, c.collect);
        let spawned = std::thread::Builder::new()
            .name(format!("trait-{name}"))
            .spawn(move || {
                let t = Instant::now();
                let result = collect(&ctx);
                let _ = thread_tx.send((name, result, t.elapsed()));
            });
        if let Err(e) = spawned {
            let _ = tx.send((c.name, Err(TraitError::Spawn(e)), Duration::ZERO));
        }
    }
    drop(tx);
    let mut report = Report::default();
    let mut pending: BTreeMap<&str, Duration> =
        collectors.iter().map(|c| (c.name, c.timeout)).collect();
    while !pending.is_empty() {
        let next_deadline = pending.values().min().copied().unwrap_or_default();
        let wait = next_deadline.saturating_sub(started.elapsed());
        match rx.recv_timeout(wait) {
            Ok((name, result, took)) => {
                pending.remove(name);
                report.timing.insert(
                    name.to_owned(),
                    u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
                );
                match result {
                    Ok(v) => report.values.merge(v),
                    Err(e) => {
                        report
                            .errors
                            .insert(name.to_owned(), vigo_core::error::chain(&e));
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let elapsed = started.elapsed();
                let expired: Vec<(&str, Duration)> = pending
                    .iter()
                    .filter(|(_, t)| **t <= elapsed)
                    .map(|(n, t)| (*n, *t))
                    .collect();
                for (name, timeout) in expired {
                    pending.remove(name);
                    report.errors.insert(
                        name.to_owned(),
                        format!("timed out after {:.1}s", timeout.as_secs_f64()),
                    );
                    report.timing.insert(
                        name.to_owned(),
                        u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX),
                    );
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Class;
    use crate::collectors::{Traits, loadavg::LoadAvg};
    use crate::schema::{Describe, Shape};

    fn quick(_: &Ctx) -> Result<Traits, TraitError> {
        Ok(Traits {
            loadavg: Some(LoadAvg {
                load1: 0.5,
                ..LoadAvg::default()
            }),
            ..Traits::default()
        })
    }
    fn broken(_: &Ctx) -> Result<Traits, TraitError> {
        Err(TraitError::read(
            "/proc/meminfo",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ))
    }
    fn hangs(_: &Ctx) -> Result<Traits, TraitError> {
        std::thread::sleep(Duration::from_secs(60));
        Ok(Traits::default())
    }

    fn collector(
        name: &'static str,
        timeout: Duration,
        collect: fn(&Ctx) -> Result<Traits, TraitError>,
    ) -> Collector {
        Collector {
            name,
            doc: "",
            class: Class::Volatile,
            timeout,
            shape: <bool as Describe>::shape as fn() -> Shape,
            collect,
        }
    }

    #[test]
    fn a_hung_collector_is_cut_off_and_the_rest_still_report() {
        let set = [
            collector("loadavg", Duration::from_secs(5), quick),
            collector("memory", Duration::from_secs(5), broken),
            collector("hangs", Duration::from_millis(200), hangs),
        ];
        let t = Instant::now();
        let r = run(&set, &Ctx::default());
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "waited {:?}",
            t.elapsed()
        );
        assert_eq!(r.values.loadavg.as_ref().map(|l| l.load1), Some(0.5));
        assert_eq!(r.values.names(), ["loadavg"]);
        assert_eq!(r.errors["memory"], "/proc/meminfo: entity not found");
        assert_eq!(r.errors["hangs"], "timed out after 0.2s");
        let doc = r.to_json(true);
        assert_eq!(doc["loadavg"]["load1"], 0.5);
        assert_eq!(doc["_errors"]["hangs"], "timed out after 0.2s");
        assert!(doc["_timing"]["loadavg"].is_u64());
    }
}
