//! Guardrails: hard-coded protections no stack can switch off, so Vigo cannot remove or
//! disable itself. Enforced twice: by the server at publish/validate, and by the agent
//! before every executor runs.
//!
//! - **Protected paths** (the path or anything under it) for every file-writing type.
//! - **Protected services** (`vigo-envoy`, `vigosrv`): never stopped or disabled.
//! - **Protected packages** (`vigo`, `vigosrv`, `vigocli`): never removed.
//! - **Dangerous commands** in `exec`: stopping, disabling, masking or killing Vigo.

use serde_json::{Map, Value};

/// Paths no resource may write, link or remove (or anything below them).
pub const PROTECTED_PATHS: &[&str] = &[
    "/usr/local/sbin/vigo",
    "/etc/vigo-envoy",
    "/etc/vigo",
    "/var/lib/vigo",
    "/etc/systemd/system/vigo-envoy.service",
    "/usr/local/sbin/vigosrv",
    "/usr/local/bin/vigocli",
    "/usr/local/sbin/vigo-license-manager",
    "/srv/vigo",
    "/etc/systemd/system/vigosrv.service",
    "/usr/local/etc/vigo-envoy",
    "/Library/Vigo",
    "/Library/LaunchDaemons/com.vigo.envoy.plist",
    "/usr/local/etc/rc.d/vigo_envoy",
    "/var/svc/manifest/system/vigo-envoy.xml",
];

/// Services that may not be stopped, disabled or masked.
pub const PROTECTED_SERVICES: &[&str] = &["vigo-envoy", "vigosrv"];

/// Packages that may not be removed.
pub const PROTECTED_PACKAGES: &[&str] = &["vigo", "vigosrv", "vigocli"];

/// Why a resource is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

/// The protected path `path` is, or lies under. `//` and `/./` are normalised so they
/// cannot slip past the list; a path with `..` is refused outright. Allocates nothing and
/// compares an already normal absolute path as text: this runs for every path-writing
/// resource of every run.
fn is_protected_path(path: &str) -> Option<&'static str> {
    let clean = path.trim_end_matches('/');
    // The common case, an absolute path already normal, is compared as text.
    if clean
        .strip_prefix('/')
        .is_some_and(|rest| rest.split('/').all(|p| !matches!(p, "" | "." | "..")))
    {
        return PROTECTED_PATHS.iter().copied().find(|p| {
            clean
                .strip_prefix(p)
                .is_some_and(|below| below.is_empty() || below.starts_with('/'))
        });
    }
    let parts = || path.split('/').filter(|p| !p.is_empty() && *p != ".");
    if parts().any(|p| p == "..") {
        return Some("(a path with `..`)");
    }
    PROTECTED_PATHS.iter().copied().find(|protected| {
        let mut have = parts();
        protected
            .split('/')
            .filter(|p| !p.is_empty())
            .all(|want| have.next() == Some(want))
    })
}

/// The strings of a list attribute: a comma-separated string or an array of strings.
fn strings<'a>(attrs: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    let (text, items) = match attrs.get(key) {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(items)) => (None, Some(items)),
        _ => (None, None),
    };
    text.into_iter()
        .flat_map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()))
        .chain(items.into_iter().flatten().filter_map(Value::as_str))
}

fn service_name(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

/// Whether a shell command stops, disables, masks or kills Vigo.
pub fn dangerous_command(cmd: &str) -> Option<String> {
    let words: Vec<&str> = cmd
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`'))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        let base = w.rsplit('/').next().unwrap_or(w);
        let rest = &words[i + 1..];
        let targets_vigo = |t: &&str| {
            let t = t.trim_matches(|c| c == '"' || c == '\'');
            t.starts_with("vigo") || t.starts_with("vigosrv")
        };
        match base {
            "systemctl" => {
                if let Some(verb) = rest.iter().find(|r| !r.starts_with('-'))
                    && matches!(*verb, "stop" | "disable" | "mask" | "kill")
                    && rest.iter().any(targets_vigo)
                {
                    return Some(format!("`systemctl {verb}` of a Vigo service"));
                }
            }
            "service"
                if rest.first().is_some_and(targets_vigo)
                    && rest.get(1).is_some_and(|v| *v == "stop") =>
            {
                return Some("`service … stop` of a Vigo service".to_owned());
            }
            "pkill" | "killall"
                if rest
                    .iter()
                    .filter(|r| !r.starts_with('-'))
                    .any(targets_vigo) =>
            {
                return Some(format!("`{base}` of Vigo"));
            }
            "rm" | "unlink" => {
                if let Some(p) = rest
                    .iter()
                    .find_map(|r| is_protected_path(r.trim_matches(|c| c == '"' || c == '\'')))
                {
                    return Some(format!("removing protected path {p}"));
                }
            }
            _ => {}
        }
    }
    None
}

/// Checks one resource (type and attributes) against every guardrail.
///
/// `crate_name` and `name` only shape the message, which follows the reference:
/// `configcrate "<c>" resource "<r>": targets protected path <p>`.
pub fn check(
    crate_name: &str,
    name: &str,
    type_name: &str,
    attrs: &Map<String, Value>,
) -> Result<(), Violation> {
    let refuse = |what: String| {
        Err(Violation(format!(
            "configcrate \"{crate_name}\" resource \"{name}\": {what}"
        )))
    };
    // The path-writing types and their path attribute come from the type definitions.
    if let Some((_, key)) = crate::types::path_types().find(|(t, _)| *t == type_name)
        && let Some(p) = strings(attrs, key).find_map(is_protected_path)
    {
        return refuse(format!("targets protected path {p}"));
    }
    match type_name {
        "service" => {
            let mut units = strings(attrs, "service");
            let state = attrs.get("state").and_then(Value::as_str).unwrap_or("");
            let disabling = matches!(attrs.get("enabled"), Some(Value::Bool(false)))
                || attrs
                    .get("enabled")
                    .and_then(Value::as_str)
                    .is_some_and(|e| matches!(e, "false" | "no"));
            if let Some(u) = units.find(|u| PROTECTED_SERVICES.contains(&service_name(u)))
                && (state == "stopped" || disabling)
            {
                return refuse(format!("would stop or disable protected service {u}"));
            }
        }
        "package" => {
            let state = attrs.get("state").and_then(Value::as_str).unwrap_or("");
            if matches!(state, "absent" | "removed")
                && let Some(p) = strings(attrs, "package").find(|p| PROTECTED_PACKAGES.contains(p))
            {
                return refuse(format!("would remove protected package {p}"));
            }
        }
        // A cron resource writes /etc/cron.d/<name>: not protected, but its command is.
        "exec" | "cron" => {
            for key in ["command", "onlyif", "unless"] {
                if let Some(cmd) = attrs.get(key).and_then(Value::as_str)
                    && let Some(why) = dangerous_command(cmd)
                {
                    return refuse(format!("runs a dangerous command: {why}"));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check_json(type_name: &str, attrs: Value) -> Result<(), Violation> {
        let Value::Object(map) = attrs else { panic!() };
        check("cleanup", "r", type_name, &map)
    }

    /// Every type whose definition says it writes a path is checked, `host` included
    /// (it was missing from the hand-kept list, which named a type that does not exist).
    #[test]
    fn every_path_writing_type_is_guarded() {
        for (type_name, key) in crate::types::path_types() {
            let Value::Object(map) = json!({key: "/etc/vigo-envoy/agent.toml"}) else {
                panic!()
            };
            assert!(
                check("c", "r", type_name, &map).is_err(),
                "{type_name} may write a protected path"
            );
        }
        assert!(check_json("host", json!({"target_path": "/etc/vigo/x"})).is_err());
        assert!(check_json("cron", json!({"command": "systemctl stop vigo-envoy"})).is_err());
    }

    #[test]
    fn protected_paths_and_their_children() {
        assert_eq!(
            check_json(
                "file",
                json!({"target_path": "/usr/local/sbin/vigo", "state": "absent"})
            )
            .unwrap_err()
            .0,
            "configcrate \"cleanup\" resource \"r\": targets protected path /usr/local/sbin/vigo"
        );
        assert!(check_json("directory", json!({"target_path": "/var/lib/vigo/state"})).is_err());
        assert!(
            check_json(
                "file_line",
                json!({"target_path": "//etc/./vigo-envoy//config"})
            )
            .is_err(),
            "normalised"
        );
        assert!(
            check_json("symlink", json!({"target_path": "/etc/../etc/vigo-envoy"})).is_err(),
            "`..` refused"
        );
        assert!(
            check_json("file", json!({"target_path": "/etc/vigo-envoyish"})).is_ok(),
            "a prefix is not a parent"
        );
        assert!(check_json("file", json!({"target_path": "/etc/motd"})).is_ok());
        assert!(
            check_json("directory", json!({"target_path": "/etc/"})).is_ok(),
            "a parent of a protected path is not protected"
        );
        assert!(
            check_json("file", json!({"target_path": "/usr/local/sbin/vigosrv"}))
                .unwrap_err()
                .0
                .ends_with("protected path /usr/local/sbin/vigosrv"),
            "the longer name is not taken for its prefix"
        );
    }

    #[test]
    fn services_packages_commands() {
        assert!(
            check_json(
                "service",
                json!({"service": "vigo-envoy.service", "state": "stopped"})
            )
            .is_err()
        );
        assert!(
            check_json(
                "service",
                json!({"service": "vigo-envoy", "state": "running", "enabled": "false"})
            )
            .is_err()
        );
        assert!(
            check_json(
                "service",
                json!({"service": "vigo-envoy", "state": "running", "enabled": true})
            )
            .is_ok()
        );
        assert!(
            check_json(
                "package",
                json!({"package": "curl, vigo", "state": "absent"})
            )
            .is_err()
        );
        assert!(check_json("package", json!({"package": "vigo", "state": "latest"})).is_ok());
        for cmd in [
            "systemctl stop vigo-envoy",
            "/bin/systemctl --now disable vigo-envoy.service",
            "true && systemctl mask vigosrv",
            "service vigo-envoy stop",
            "pkill -9 vigo",
            "killall vigosrv",
            "rm -rf /srv/vigo/stacks",
        ] {
            assert!(
                check_json("exec", json!({"command": cmd})).is_err(),
                "{cmd}"
            );
        }
        assert!(check_json("exec", json!({"command": "systemctl restart nginx"})).is_ok());
        assert!(check_json("exec", json!({"command": "echo vigo stop"})).is_ok());
    }
}
