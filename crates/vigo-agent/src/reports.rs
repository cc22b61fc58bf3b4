//! Reports on their way to the server: how big they may be, and the offline queue they
//! wait in until the server takes them.
//!
//! - **Bounds** ([`bound`]): each result message is cut to [`MESSAGE_LIMIT`] (4 KiB),
//!   ending in `… [truncated N bytes]`; a report still over [`REPORT_LIMIT`] (3 MiB, a
//!   quarter below the server's 4 MiB gRPC message limit) has its longest messages cut
//!   further, all to the same length, until it fits; only when even bare results do not
//!   fit are the last ones left out, the last kept message saying how many. So a report
//!   is never too large for the server, however many resources fail with long output.
//! - **The queue** ([`drain`]): every report goes through the state store's queue and is
//!   sent oldest first, each deleted once the server acknowledged it. A failed send is
//!   judged by [`verdict`]: an unreachable server (or one refusing this envoy) keeps the
//!   report queued for the next cycle; a server that answers that it will never take
//!   these bytes (`InvalidArgument`, `OutOfRange` — too large —, `FailedPrecondition`,
//!   …) gets the report moved aside into the store's *rejected* set, counted, with its
//!   reason, and the reports behind it are sent; any other answer (`Internal`,
//!   `ResourceExhausted`, …) is retried, and moved aside after [`MAX_REFUSALS`] in a row,
//!   so no report can block the queue forever.

use std::fmt;

use prost::Message;
use tonic::Code;
use vigo_proto::v1::ReportResultRequest;

use crate::client::ClientError;
use crate::state::{StateError, StateStore};

/// The most bytes a result message may have in a report.
pub const MESSAGE_LIMIT: usize = 4 << 10;
/// The most bytes an encoded report may have (the server accepts 4 MiB messages).
pub const REPORT_LIMIT: usize = 3 << 20;
/// How many answered refusals in a row (not of the kinds that are final at once) a queued
/// report gets before it is moved aside.
pub const MAX_REFUSALS: u32 = 5;
/// The field number of `ReportResultRequest.results`.
const RESULTS_TAG: u32 = 6;
/// Room kept for the note on the last result when results are left out.
const NOTE_ROOM: usize = 128;

/// The size limits a report is cut to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes per result message.
    pub message: usize,
    /// Bytes of the whole encoded report.
    pub report: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            message: MESSAGE_LIMIT,
            report: REPORT_LIMIT,
        }
    }
}

/// The note that ends a cut message.
pub fn truncation_note(cut: usize) -> String {
    format!("… [truncated {cut} bytes]")
}

/// `message` cut to at most `limit` bytes (on a character boundary), its end replaced by
/// [`truncation_note`]; unchanged when it fits. A `limit` smaller than the note leaves
/// only the note.
pub fn truncate_message(message: &str, limit: usize) -> String {
    if message.len() <= limit {
        return message.to_owned();
    }
    let room = limit.saturating_sub(truncation_note(message.len()).len());
    let keep = message.floor_char_boundary(room);
    format!(
        "{}{}",
        &message[..keep],
        truncation_note(message.len() - keep)
    )
}

/// What [`bound`] cut from a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    /// Result messages shortened.
    pub messages: usize,
    /// Results left out (from the end).
    pub results: usize,
    /// The limits it was cut to.
    pub bounds: Bounds,
}

impl fmt::Display for Trimmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "shortened {} result message{}",
            self.messages,
            plural(self.messages)
        )?;
        if self.results > 0 {
            write!(
                f,
                " and left out the last {} result{}",
                self.results,
                plural(self.results)
            )?;
        }
        write!(
            f,
            " to keep the report within {} bytes per message and {} bytes in all",
            self.bounds.message, self.bounds.report
        )
    }
}

/// Cuts `report` to `bounds` (see the module doc); `None` when it already fitted.
pub fn bound(report: &mut ReportResultRequest, bounds: &Bounds) -> Option<Trimmed> {
    let originals: Vec<String> = report
        .results
        .iter_mut()
        .map(|r| std::mem::take(&mut r.message))
        .collect();
    let cut_to = |report: &mut ReportResultRequest, limit: usize| {
        for (r, m) in report.results.iter_mut().zip(&originals) {
            r.message = truncate_message(m, limit);
        }
        report.encoded_len()
    };
    if cut_to(report, bounds.message) > bounds.report {
        if cut_to(report, 0) <= bounds.report {
            // The largest common limit that fits: `lo` fits, `hi` does not.
            let (mut lo, mut hi) = (0, bounds.message);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if cut_to(report, mid) <= bounds.report {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            cut_to(report, lo);
        } else {
            leave_out_the_last(report, bounds.report);
        }
    }
    let messages = report
        .results
        .iter()
        .zip(&originals)
        .filter(|(r, m)| r.message != **m)
        .count();
    let results = originals.len() - report.results.len();
    (messages > 0 || results > 0).then_some(Trimmed {
        messages,
        results,
        bounds: *bounds,
    })
}

/// Keeps the first results that fit in `budget` (with room for the note) and says on the
/// last kept one how many were left out.
fn leave_out_the_last(report: &mut ReportResultRequest, budget: usize) {
    let results = std::mem::take(&mut report.results);
    let mut used = report.encoded_len() + NOTE_ROOM;
    let mut keep = 0;
    for r in &results {
        let size = prost::encoding::message::encoded_len(RESULTS_TAG, r);
        if used + size > budget {
            break;
        }
        used += size;
        keep += 1;
    }
    let left_out = results.len() - keep;
    report.results = results;
    report.results.truncate(keep);
    if let Some(last) = report.results.last_mut() {
        last.message.push_str(&format!(
            " … [report trimmed: {left_out} more results not sent]"
        ));
    }
}

/// What to do with a queued report the server did not acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not the report's fault (no server reachable, this envoy refused, a local problem):
    /// keep it queued and try again next cycle.
    Retry,
    /// The server answered with an error that may pass: keep it queued, but count the
    /// refusal; after [`MAX_REFUSALS`] in a row it is moved aside.
    RetryCounted,
    /// The server will never take these bytes: move the report aside.
    Reject,
}

/// Judges a failed `ReportResult` by its gRPC status (never by its text).
pub fn verdict(e: &ClientError) -> Verdict {
    let ClientError::Refused { code, .. } = e else {
        return Verdict::Retry;
    };
    match code {
        Code::InvalidArgument
        | Code::OutOfRange
        | Code::FailedPrecondition
        | Code::Unimplemented
        | Code::NotFound
        | Code::AlreadyExists
        | Code::DataLoss => Verdict::Reject,
        Code::PermissionDenied | Code::Unauthenticated => Verdict::Retry,
        _ => Verdict::RetryCounted,
    }
}

/// Why the reports left in the queue stay there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The report at the head of the queue.
    pub seq: u64,
    /// No server could be reached (as opposed to one that answered).
    pub unreachable: bool,
    /// The send error.
    pub reason: String,
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drained {
    /// The reports acknowledged by the server, oldest first.
    pub sent: Vec<u64>,
    /// The reports moved aside, with why.
    pub rejected: Vec<(u64, String)>,
    /// Why the rest stays queued; `None` when the queue is empty.
    pub held: Option<Held>,
}

/// Sends the queued reports oldest first through `send`, each cut to `bounds` first and
/// deleted only once the server acknowledged it, so each is reported once and in order.
/// The count of reports that left the queue undelivered rides on the next report sent
/// and is reset once that one is acknowledged. A refused report is moved aside or kept
/// as [`verdict`] says; the pass stops at the first report that stays queued.
pub async fn drain<F>(
    store: &StateStore,
    bounds: &Bounds,
    mut send: F,
) -> Result<Drained, StateError>
where
    F: AsyncFnMut(&ReportResultRequest) -> Result<(), ClientError>,
{
    let mut out = Drained::default();
    let reject = |seq: u64, why: String, out: &mut Drained| -> Result<(), StateError> {
        let total = store.reject_result(seq, &why)?;
        tracing::warn!(
            "the server refused a report for good; moved it aside ({total} so far): {why}"
        );
        out.rejected.push((seq, why));
        Ok(())
    };
    loop {
        let Some((seq, bytes)) = store.peek_results(1)?.into_iter().next() else {
            return Ok(out);
        };
        let mut report = match ReportResultRequest::decode(bytes.as_slice()) {
            Ok(report) => report,
            Err(e) => {
                reject(
                    seq,
                    format!("the queued report is unreadable: {e}"),
                    &mut out,
                )?;
                continue;
            }
        };
        if let Some(trimmed) = bound(&mut report, bounds) {
            tracing::info!("queued report {}: {trimmed}", report.run_id);
        }
        let dropped = store.dropped_results()?;
        report.dropped_reports = dropped;
        let Err(e) = send(&report).await else {
            store.ack_result(seq)?;
            if dropped > 0 {
                store.reset_dropped_results()?;
            }
            out.sent.push(seq);
            continue;
        };
        let reason = e.to_string();
        match verdict(&e) {
            Verdict::Reject => reject(seq, reason, &mut out)?,
            Verdict::RetryCounted => {
                let n = store.note_refusal(seq)?;
                if n >= MAX_REFUSALS {
                    reject(
                        seq,
                        format!("refused {n} times in a row: {reason}"),
                        &mut out,
                    )?;
                } else {
                    out.held = Some(Held {
                        seq,
                        unreachable: false,
                        reason: format!("{reason} (refusal {n} of {MAX_REFUSALS})"),
                    });
                    return Ok(out);
                }
            }
            Verdict::Retry => {
                out.held = Some(Held {
                    seq,
                    unreachable: e.is_unreachable(),
                    reason,
                });
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use vigo_proto::v1::ResourceResult;

    use super::*;

    fn result(i: usize, message: &str) -> ResourceResult {
        ResourceResult {
            configcrate: "noisy".into(),
            r#type: "exec".into(),
            name: format!("fail-{i:04}"),
            action: 6,
            duration_micros: 1_000,
            message: message.to_owned(),
        }
    }

    fn report(n: usize, message: &str) -> ReportResultRequest {
        ReportResultRequest {
            run_id: "0190a8e0-0000-7000-8000-000000000000".into(),
            policy_version: "20260101T000000Z".into(),
            results: (0..n).map(|i| result(i, message)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_long_message_keeps_its_head_and_says_how_much_was_cut() {
        let long = "é".repeat(3_000); // 6,000 bytes, two per character
        let cut = truncate_message(&long, MESSAGE_LIMIT);
        assert!(cut.len() <= MESSAGE_LIMIT, "{}", cut.len());
        let (kept, note) = cut.split_once('…').unwrap();
        assert!(long.starts_with(kept));
        assert_eq!(
            note,
            format!(" [truncated {} bytes]", long.len() - kept.len())
        );
        assert_eq!(truncate_message("short", MESSAGE_LIMIT), "short");
        assert_eq!(truncate_message("abcdef", 0), "… [truncated 6 bytes]");
    }

    #[test]
    fn many_long_failures_fit_the_report_limit_with_every_result_kept() {
        let mut r = report(1_100, &"x".repeat(10_000));
        assert!(r.encoded_len() > 10 << 20);
        let trimmed = bound(&mut r, &Bounds::default()).unwrap();
        assert!(r.encoded_len() <= REPORT_LIMIT, "{}", r.encoded_len());
        assert_eq!(r.results.len(), 1_100, "no result is left out");
        assert_eq!(trimmed.messages, 1_100);
        assert_eq!(trimmed.results, 0);
        let m = &r.results[7].message;
        assert!(m.len() <= MESSAGE_LIMIT);
        assert!(m.starts_with("xxxx") && m.contains("[truncated "), "{m}");
        // As large as fits: within a message's worth of the limit.
        assert!(
            r.encoded_len() > REPORT_LIMIT - 2 * 1_100,
            "{}",
            r.encoded_len()
        );
        insta::assert_snapshot!(trimmed.to_string(), @"shortened 1100 result messages to keep the report within 4096 bytes per message and 3145728 bytes in all");
        assert_eq!(
            bound(&mut r, &Bounds::default()),
            None,
            "bounding is idempotent"
        );
    }

    #[test]
    fn short_messages_are_left_alone() {
        let mut r = report(10, "content absent → sha256:936e6d2afc36");
        let before = r.clone();
        assert_eq!(bound(&mut r, &Bounds::default()), None);
        assert_eq!(r, before);
    }

    #[test]
    fn when_bare_results_do_not_fit_the_last_are_left_out_with_a_note() {
        let mut r = report(1_000, "");
        let bounds = Bounds {
            message: MESSAGE_LIMIT,
            report: 20_000,
        };
        let trimmed = bound(&mut r, &bounds).unwrap();
        assert!(r.encoded_len() <= bounds.report, "{}", r.encoded_len());
        assert!(trimmed.results > 0 && r.results.len() + trimmed.results == 1_000);
        let last = r.results.last().unwrap();
        assert_eq!(
            last.message,
            format!(
                " … [report trimmed: {} more results not sent]",
                trimmed.results
            )
        );
    }

    fn refused(code: Code) -> ClientError {
        ClientError::Refused {
            method: vigo_proto::v1::methods::REPORT_RESULT,
            server: "s:1530".into(),
            code,
            message: "no".into(),
        }
    }

    #[test]
    fn refusals_are_judged_by_their_status_code() {
        for code in [
            Code::InvalidArgument,
            Code::OutOfRange,
            Code::FailedPrecondition,
        ] {
            assert_eq!(verdict(&refused(code)), Verdict::Reject, "{code:?}");
        }
        for code in [Code::Internal, Code::ResourceExhausted, Code::Aborted] {
            assert_eq!(verdict(&refused(code)), Verdict::RetryCounted, "{code:?}");
        }
        for code in [Code::PermissionDenied, Code::Unauthenticated] {
            assert_eq!(verdict(&refused(code)), Verdict::Retry, "{code:?}");
        }
        let down = ClientError::Unreachable {
            tried: "s:1530".into(),
            last: "connection refused".into(),
        };
        assert_eq!(verdict(&down), Verdict::Retry);
    }
}
