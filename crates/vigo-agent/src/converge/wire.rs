//! The run report as the server receives it, and the steady heartbeat
//! (`--result-cache-cycles`) that replaces a report identical to the previous one.

use sha2::{Digest, Sha256};
use vigo_proto::v1::{ReportResultRequest, ResourceResult as WireResult};

use crate::engine::{Action, RunReport};

/// The wire report of a run. Its messages were redacted by the engine, resource by
/// resource, from what the resource derives from a secret.
pub fn wire_report(
    report: &RunReport,
    policy_version: &str,
    started_at_unix: i64,
) -> ReportResultRequest {
    ReportResultRequest {
        run_id: uuid::Uuid::now_v7().to_string(),
        policy_version: policy_version.to_owned(),
        dry_run: report.dry_run,
        started_at_unix,
        duration_micros: report.duration_micros,
        results: report
            .results
            .iter()
            .map(|r| WireResult {
                configcrate: r.configcrate.clone(),
                r#type: r.type_name.clone(),
                name: r.name.clone(),
                action: r.action.to_wire() as i32,
                duration_micros: r.duration_micros,
                message: r.message.clone(),
            })
            .collect(),
        steady: false,
        dropped_reports: 0,
        traceparent: String::new(),
    }
}

/// The digest that tells two reports apart for the steady heartbeat: the version and
/// every resource's identity and action.
pub fn report_digest(r: &ReportResultRequest) -> String {
    let mut h = Sha256::new();
    h.update(r.policy_version.as_bytes());
    h.update([u8::from(r.dry_run)]);
    for x in &r.results {
        for part in [&x.configcrate, &x.r#type, &x.name] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(x.action.to_be_bytes());
    }
    hex::encode(h.finalize())
}

/// `--result-cache-cycles`: a report identical to the previous one with every action
/// `none` becomes a compact steady heartbeat (no per-resource results), at most
/// `cache_cycles` in a row. Returns the digest and the new steady-run length to remember.
pub fn compact_if_steady(
    report: &mut ReportResultRequest,
    previous_digest: Option<&str>,
    steady_run: u32,
    cache_cycles: u32,
) -> (String, u32) {
    let digest = report_digest(report);
    let all_none = report
        .results
        .iter()
        .all(|r| r.action == Action::None.to_wire() as i32);
    if all_none && previous_digest == Some(digest.as_str()) && steady_run < cache_cycles {
        report.steady = true;
        report.results.clear();
        (digest, steady_run + 1)
    } else {
        (digest, 0)
    }
}
