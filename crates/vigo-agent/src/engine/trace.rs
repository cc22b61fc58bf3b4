//! The colour-coded trace on stderr: one line per resource with its action, what differed
//! and how long it took. Colour only on a terminal, and never when `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::result::{Action, ResourceResult, verb};

/// Where trace lines go, and whether they are coloured.
pub struct Trace {
    out: Box<dyn Write + Send>,
    colour: bool,
    quiet: bool,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("colour", &self.colour)
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// The trace on stderr, coloured when stderr is a terminal and `NO_COLOR` is unset.
    /// Line-buffered: one write per line (stderr itself is unbuffered, and a formatted line
    /// would otherwise cost a dozen system calls).
    pub fn stderr() -> Self {
        let colour = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self {
            out: Box::new(std::io::LineWriter::new(std::io::stderr())),
            colour,
            quiet: false,
        }
    }

    /// A trace into any writer (tests, logs), uncoloured.
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            colour: false,
            quiet: false,
        }
    }

    /// A trace that prints nothing.
    pub fn quiet() -> Self {
        Self {
            out: Box::new(std::io::sink()),
            colour: false,
            quiet: true,
        }
    }

    fn paint(&self, action: Action) -> (&'static str, &'static str) {
        if !self.colour {
            return ("", "");
        }
        let code = match action {
            Action::Created => "\x1b[32m",
            Action::Updated => "\x1b[33m",
            Action::Deleted => "\x1b[35m",
            Action::Skipped => "\x1b[36m",
            Action::None => "\x1b[2m",
            Action::Error | Action::Blocked => "\x1b[1;31m",
        };
        (code, "\x1b[0m")
    }

    /// One resource's line: `  updated  file[/etc/motd]  12.3ms  content sha256:… → …`.
    pub fn resource(&mut self, r: &ResourceResult, dry_run: bool) {
        if self.quiet {
            return;
        }
        let (on, off) = self.paint(r.action);
        let verb = verb(r.action, dry_run);
        let ms = Duration::from_micros(r.duration_micros).as_secs_f64() * 1_000.0;
        let msg = if r.message.is_empty() {
            String::new()
        } else {
            format!("  {}", r.message)
        };
        let _ = writeln!(
            self.out,
            "{on}{verb:>15}{off}  {}[{}]  {ms:.1}ms{msg}",
            r.type_name, r.name
        );
    }

    /// The closing summary line.
    pub fn summary(&mut self, line: &str) {
        if !self.quiet {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::engine::RunReport;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn result(
        action: Action,
        type_name: &str,
        name: &str,
        micros: u64,
        message: &str,
    ) -> ResourceResult {
        ResourceResult {
            id: format!("web/{name}"),
            configcrate: "web".into(),
            type_name: type_name.into(),
            name: name.into(),
            action,
            duration_micros: micros,
            message: message.into(),
        }
    }

    /// One line of every action kind, as a run and as a dry-run, with the summary.
    fn trace_of(dry_run: bool) -> String {
        let results = vec![
            result(
                Action::Created,
                "package",
                "nginx",
                9_200_000,
                "nginx absent → installed",
            ),
            result(
                Action::Updated,
                "file",
                "/etc/motd",
                1_100,
                "content sha256:0f3e2d1c4b5a → sha256:30c5a090e5e5",
            ),
            result(
                Action::Deleted,
                "file",
                "/etc/cron.d/old",
                400,
                "present → absent",
            ),
            result(Action::None, "service", "nginx", 48_000, ""),
            result(
                Action::Skipped,
                "file",
                "site",
                200,
                "when: os.family == \"redhat\" is false",
            ),
            result(
                Action::Error,
                "exec",
                "migrate",
                3_000,
                "exit status 1: relation \"users\" does not exist",
            ),
            result(
                Action::Blocked,
                "file",
                "/etc/shadow",
                0,
                "guardrail: /etc/shadow is never managed",
            ),
        ];
        let buf = Buffer::default();
        let mut trace = Trace::to_writer(Box::new(buf.clone()));
        for r in &results {
            trace.resource(r, dry_run);
        }
        let report = RunReport {
            dry_run,
            preempted: false,
            results,
            duration_micros: 9_252_700,
        };
        trace.summary(&report.summary_line());
        drop(trace);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn every_action_kind_has_its_line() {
        insta::assert_snapshot!("trace_run", trace_of(false));
        insta::assert_snapshot!("trace_dry_run", trace_of(true));
    }
}
