//! The agent's one diagnostic path: every warning, notice and error the agent prints is a
//! `tracing` event, filtered by `--log-level` (or `log_level` in the config) and written
//! to stderr in one of two shapes:
//!
//! - **terminal** (the default): `vigo: warning: the server is not reachable …`, no colour;
//!   errors and notices read `vigo: …`, debug and trace lines `vigo: debug: …`;
//! - **journal** (under systemd): the sd-daemon(3) priority prefix and the message,
//!   `<4>the server is not reachable …`, so `journalctl -p warning` filters by level.
//!
//! The per-resource trace (`engine::Trace`) is the commands' own output, not a
//! diagnostic: it is written directly and is not filtered by the level.
//!
//! ```console
//! # vigo --log-level warn run        # only warnings and errors (and the trace)
//! ```
//!
//! Events of the agent's own crates (`vigo*`) pass at the chosen level; those of its
//! libraries (tonic, hyper, rustls, …) only at `warn` and above, or at every level with
//! `--log-level trace`.

use std::ffi::OsStr;
use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::LogLevel;

/// The systemd variable naming the journal stream on stdout/stderr (`DEVICE:INODE`).
pub const JOURNAL_STREAM: &str = "JOURNAL_STREAM";
/// The systemd variable set for every unit invocation.
pub const INVOCATION_ID: &str = "INVOCATION_ID";

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// A global subscriber was already installed.
    #[error("logging was already set up: {0}")]
    AlreadySet(#[source] tracing_subscriber::util::TryInitError),
}

/// Where the lines go, which decides their shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A terminal, a file or a pipe: `vigo: warning: …`.
    Terminal,
    /// The systemd journal: `<4>…` (sd-daemon(3) priority prefixes).
    Journal,
}

impl Output {
    /// Decides from this process's environment and stderr: see [`Output::from_facts`].
    pub fn detect() -> Self {
        let stderr = std::io::stderr();
        Self::from_facts(
            std::env::var_os(JOURNAL_STREAM).as_deref(),
            std::env::var_os(INVOCATION_ID).as_deref(),
            stderr.is_terminal(),
            stderr_identity(),
        )
    }

    /// The journal when `JOURNAL_STREAM` names the very file stderr is (systemd sets it
    /// when it connects stdout/stderr to the journal; a redirected stderr no longer
    /// matches), or when stderr is not a terminal inside a systemd unit
    /// (`INVOCATION_ID` set); otherwise the terminal shape.
    pub fn from_facts(
        journal_stream: Option<&OsStr>,
        invocation_id: Option<&OsStr>,
        stderr_is_terminal: bool,
        stderr: Option<(u64, u64)>,
    ) -> Self {
        if let Some(stream) = journal_stream.and_then(OsStr::to_str) {
            return match (parse_journal_stream(stream), stderr) {
                (Some(named), Some(actual)) if named == actual => Output::Journal,
                _ => Output::Terminal,
            };
        }
        if invocation_id.is_some_and(|v| !v.is_empty()) && !stderr_is_terminal {
            return Output::Journal;
        }
        Output::Terminal
    }
}

/// `DEVICE:INODE` (decimal, as systemd writes it).
fn parse_journal_stream(text: &str) -> Option<(u64, u64)> {
    let (dev, ino) = text.trim().split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// The device and inode of stderr (through `/proc/self/fd/2`, which also resolves pipes
/// and the journal's socket).
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata("/proc/self/fd/2").ok()?;
    Some((md.dev(), md.ino()))
}

/// The sd-daemon(3) priority of a level: error 3, warning 4, info 6, debug and trace 7.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Formats one event as a line in the shape of [`Output`].
#[derive(Debug, Clone, Copy)]
pub struct AgentFormat {
    output: Output,
}

impl AgentFormat {
    /// The format for `output`.
    pub fn new(output: Output) -> Self {
        Self { output }
    }
}

impl<S, N> FormatEvent<S, N> for AgentFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        match self.output {
            Output::Journal => write!(writer, "<{}>", priority(level))?,
            Output::Terminal => {
                let label = match level {
                    Level::WARN => "warning: ",
                    Level::DEBUG => "debug: ",
                    Level::TRACE => "trace: ",
                    _ => "",
                };
                write!(writer, "vigo: {label}")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The filter for `level`: the agent's crates at `level`, libraries at `warn` (or at
/// `trace` too when `level` is trace).
pub fn filter(level: LogLevel) -> Targets {
    let chosen = match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    };
    let libraries = if chosen == LevelFilter::TRACE {
        LevelFilter::TRACE
    } else {
        chosen.min(LevelFilter::WARN)
    };
    Targets::new()
        .with_default(libraries)
        .with_target("vigo", chosen)
}

/// A subscriber writing to `writer` at `level` in the shape of `output` (also for tests).
pub fn subscriber<W>(
    level: LogLevel,
    output: Output,
    writer: W,
) -> Result<impl Subscriber + Send + Sync, LoggingError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    let layer = tracing_subscriber::fmt::layer()
        .event_format(AgentFormat::new(output))
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(filter(level));
    Ok(tracing_subscriber::registry().with(layer))
}

/// Installs the process-wide subscriber: stderr, `level`, the shape [`Output::detect`]
/// decides.
pub fn init(level: LogLevel) -> Result<(), LoggingError> {
    subscriber(level, Output::detect(), std::io::stderr)?
        .try_init()
        .map_err(LoggingError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Every level once, from the agent and from a library, through a real subscriber.
    fn lines(level: LogLevel, output: Output) -> String {
        let buf = Buffer::default();
        let sub = subscriber(level, output, buf.clone()).unwrap();
        tracing::subscriber::with_default(sub, || {
            tracing::error!("no policy bundle to apply");
            tracing::warn!(owner = 4242, "removed a stale preempt sentinel");
            tracing::info!("converged 20260101T000000Z");
            tracing::debug!("plan took 1.2ms");
            tracing::trace!("check-in sent");
            tracing::warn!(target: "h2::proto", "library warning");
            tracing::info!(target: "h2::proto", "library chatter");
        });
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn terminal_lines_carry_the_level_word_and_no_colour() {
        insta::assert_snapshot!(lines(LogLevel::Debug, Output::Terminal), @r"
        vigo: no policy bundle to apply
        vigo: warning: removed a stale preempt sentinel owner=4242
        vigo: converged 20260101T000000Z
        vigo: debug: plan took 1.2ms
        vigo: warning: library warning
        ");
    }

    #[test]
    fn journal_lines_carry_sd_daemon_priorities() {
        insta::assert_snapshot!(lines(LogLevel::Trace, Output::Journal), @r"
        <3>no policy bundle to apply
        <4>removed a stale preempt sentinel owner=4242
        <6>converged 20260101T000000Z
        <7>plan took 1.2ms
        <7>check-in sent
        <4>library warning
        <6>library chatter
        ");
    }

    #[test]
    fn error_level_hides_warnings() {
        assert_eq!(
            lines(LogLevel::Error, Output::Terminal),
            "vigo: no policy bundle to apply\n"
        );
    }

    #[test]
    fn journal_is_chosen_only_when_stderr_is_the_named_stream() {
        let named = Some(OsStr::new("64769:1234"));
        assert_eq!(
            Output::from_facts(named, None, false, Some((64769, 1234))),
            Output::Journal
        );
        assert_eq!(
            Output::from_facts(named, None, false, Some((64769, 9))),
            Output::Terminal,
            "stderr was redirected away from the journal"
        );
        assert_eq!(
            Output::from_facts(Some(OsStr::new("junk")), None, false, Some((1, 2))),
            Output::Terminal
        );
        let unit = Some(OsStr::new("8c1e0d"));
        assert_eq!(Output::from_facts(None, unit, false, None), Output::Journal);
        assert_eq!(
            Output::from_facts(None, unit, true, None),
            Output::Terminal,
            "a unit writing to a terminal keeps the terminal shape"
        );
        assert_eq!(
            Output::from_facts(None, None, false, None),
            Output::Terminal
        );
    }
}
