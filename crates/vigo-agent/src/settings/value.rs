//! The kinds of value a setting holds, and how each is shown (`--help`, `vigo status`,
//! docs/agent.md) and read from the config file.

use std::path::PathBuf;

/// A value a setting can hold.
pub trait SettingValue: Sized + Clone {
    /// What the config file must hold, for "expected …" messages.
    const EXPECTED: &'static str;
    /// How the value is shown to a user (`--help` default, `vigo status`, the docs).
    fn show(&self) -> String;
    /// A value for the tests that check a setting reaches the effective settings: as
    /// YAML or a flag's argument, and as [`SettingValue::show`] prints it.
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str);
}

impl SettingValue for String {
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str) = ("probe.example.net:9", "probe.example.net:9");
    const EXPECTED: &'static str = "a string";
    fn show(&self) -> String {
        self.clone()
    }
}

impl SettingValue for PathBuf {
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str) = ("/probe/dir", "/probe/dir");
    const EXPECTED: &'static str = "a path";
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl SettingValue for u32 {
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str) = ("7", "7");
    const EXPECTED: &'static str = "a whole number from 0 to 4294967295";
    fn show(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for Option<String> {
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str) = ("probe-id", "probe-id");
    const EXPECTED: &'static str = "a string";
    fn show(&self) -> String {
        self.clone().unwrap_or_else(|| "none".to_owned())
    }
}

impl SettingValue for Vec<String> {
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str) =
        ("[a.example:1, b.example:2]", "a.example:1, b.example:2");
    const EXPECTED: &'static str = "a list of strings";
    fn show(&self) -> String {
        if self.is_empty() {
            "none".to_owned()
        } else {
            self.join(", ")
        }
    }
}

impl SettingValue for LogLevel {
    #[cfg(test)]
    const SAMPLE: (&'static str, &'static str) = ("debug", "debug");
    const EXPECTED: &'static str = "one of trace, debug, info, warn, error";
    fn show(&self) -> String {
        self.as_str().to_owned()
    }
}

/// How much the agent logs (`--log-level`, `log_level`): the workspace's one set of levels.
pub use vigo_core::log_level::LogLevel;

/// Whether a config-file field is unset (not written by `to_yaml`).
pub trait Unset {
    /// True when the field holds nothing.
    fn is_unset(&self) -> bool;
}

impl<T> Unset for Option<T> {
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl<T> Unset for Vec<T> {
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
}

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// The built-in default.
    #[default]
    Default,
    /// `/etc/vigo-envoy/config`.
    File,
    /// A flag on the command line.
    Flag,
}

impl Origin {
    /// The word `vigo status` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "config",
            Origin::Flag => "flag",
        }
    }
}
