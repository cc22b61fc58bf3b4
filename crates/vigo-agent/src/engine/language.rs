//! The language on the agent: the real [`Evaluator`] (templates and `when:` from
//! `vigo-lang`) and the [`SystemProbe`] that answers `when:` builtins from the live host.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use vigo_exec::command::{self, CommandSpec};
use vigo_lang::template::Rendered;
use vigo_lang::when::{self, HostProbe, When};
use vigo_traits::Traits;

use super::planner::Evaluator;

/// How long `command_succeeds(…)` may run.
pub const COMMAND_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers `when:` builtins from this machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemProbe;

impl HostProbe for SystemProbe {
    fn file_exists(&self, path: &str) -> bool {
        Path::new(path).is_file()
    }

    fn dir_exists(&self, path: &str) -> bool {
        Path::new(path).is_dir()
    }

    fn process_running(&self, name: &str) -> bool {
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return false;
        };
        rd.filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .any(|e| {
                std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name)
                    || std::fs::read_link(e.path().join("exe"))
                        .is_ok_and(|p| p.file_name().is_some_and(|f| f == name))
            })
    }

    fn command_succeeds(&self, cmd: &str) -> bool {
        command::run(&CommandSpec::shell(cmd).timeout(COMMAND_PROBE_TIMEOUT))
            .is_ok_and(|o| o.success())
    }

    fn is_container(&self) -> bool {
        Path::new("/.dockerenv").exists()
            || Path::new("/run/.containerenv").exists()
            || Path::new("/run/systemd/container").exists()
            || std::fs::read("/proc/1/environ")
                .is_ok_and(|e| e.split(|b| *b == 0).any(|kv| kv.starts_with(b"container=")))
    }
}

/// Templates and `when:` through `vigo-lang`, against a host probe.
pub struct LangEvaluator<'p> {
    /// Where live `when:` builtins are answered.
    pub probe: &'p dyn HostProbe,
}

impl std::fmt::Debug for LangEvaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangEvaluator").finish_non_exhaustive()
    }
}

impl Evaluator for LangEvaluator<'_> {
    fn render(
        &self,
        name: &str,
        template: &str,
        data: &Value,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Rendered, String> {
        vigo_lang::secret::parse_attribute(name, template)
            .and_then(|t| t.render_with_secrets(data, secret))
            .map_err(|e| e.to_string())
    }

    fn when(
        &self,
        expr: &str,
        traits: &Traits,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool, String> {
        match when::parse(expr).map_err(|e| e.to_string())? {
            When::Changed => Err("`changed` is only valid alone, on a notify target".into()),
            When::Expr(e) => e
                .eval_with_secrets(traits, self.probe, secret)
                .map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_live_probe_sees_this_machine() {
        let p = SystemProbe;
        assert!(p.file_exists("/etc/passwd") && !p.file_exists("/etc"));
        assert!(p.dir_exists("/etc"));
        assert!(p.command_succeeds("true") && !p.command_succeeds("exit 3"));
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(p.process_running(me.trim()), "this test process is running");
        assert!(!p.process_running("no-such-process-vigo"));
    }

    #[test]
    fn evaluator_renders_and_decides() {
        let ev = LangEvaluator {
            probe: &SystemProbe,
        };
        let traits = Traits {
            os: Some(vigo_traits::collectors::os::Os {
                family: "debian".into(),
                ..Default::default()
            }),
            ..Traits::default()
        };
        let data = json!({"Vars": {"port": 80}, "Traits": traits.to_json()});
        let none = |_: &str| None;
        let r = ev
            .render("listen", "listen {{ .Vars.port }};", &data, &none)
            .unwrap();
        assert_eq!(r.text, "listen 80;");
        assert!(!r.sensitive);
        assert!(
            ev.when("os_family('debian') && dir_exists('/etc')", &traits, &none)
                .unwrap()
        );
        assert!(!ev.when("os_family('rhel')", &traits, &none).unwrap());
        assert_eq!(
            ev.when("os_famly('x')", &traits, &none).unwrap_err(),
            "column 1: unknown builtin `os_famly` (did you mean `os_family`?)"
        );
        assert!(
            ev.render("x", "{{ .Vars.nope }}", &data, &none)
                .unwrap_err()
                .contains("map has no entry for key \"nope\"")
        );
    }
}
