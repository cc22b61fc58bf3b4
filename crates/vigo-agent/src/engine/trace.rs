//! The colour-coded trace on stderr: one line per resource with its action, what differed
//! and how long it took. Colour only on a terminal, and never when `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::result::{Action, ResourceResult};

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
        let verb = match (dry_run, r.action) {
            (true, Action::Created) => "would create",
            (true, Action::Updated) => "would update",
            (true, Action::Deleted) => "would delete",
            (_, a) => a.as_str(),
        };
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
