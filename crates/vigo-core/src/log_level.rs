//! How much a Vigo program logs: the one set of level words for the agent's
//! `--log-level`/`log_level` and the server's `logging.level`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A log level: `trace` everything (the libraries' events too), `debug` Vigo's debug
/// events, `info` (the default) notices, warnings and errors, `warn` warnings and errors,
/// `error` errors only.
///
/// (The variants carry no doc comments: clap, with the `clap` feature, would show them as
/// per-value help and switch `--help` to its long layout.)
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The level's name, as flags and config files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_through_serde() {
        for level in [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ] {
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{level}\""));
            assert_eq!(serde_json::from_str::<LogLevel>(&json).unwrap(), level);
        }
        assert!(serde_json::from_str::<LogLevel>("\"loud\"").is_err());
    }
}
