//! `package`: packages installed, at a version, latest, or removed.

use serde_json::{Map, Value};

use super::{Attr, Kind, Required, TypeDef, flag_set, list_items};

/// The `package` type.
pub const TYPE: TypeDef = TypeDef {
    name: "package",
    doc: "Packages installed (at a version), upgraded to the latest, or removed. APT and DNF are detected; unreachable mirrors, bad signatures or a full disk give `blocked`.",
    example: r#"- name: web-packages
  type: package
  package: [nginx, curl]
  state: present"#,
    attrs: &[
        Attr::new("package", Kind::List, "a name, a comma list or a YAML list (one package-manager call); `\"*\"` with `latest` upgrades everything")
        .check(check_names)
            .required(Required::Yes)
            .example("[nginx, curl]"),
        Attr::new(
            "state",
            Kind::Enum(&["present", "latest", "absent"]),
            "installed, upgraded, or removed",
        )
            .required(Required::Yes)
            .example("present"),
        Attr::new("version", Kind::Str, "exact version (one name)")
        .check(check_version).example("\"1.22.1-9\""),
        Attr::new("allow_downgrade", Kind::Bool, "allow installing an older version")
            .default("false")
            .example("true"),
        Attr::new("purge", Kind::Bool, "with `absent`: remove configuration too (apt)")
            .default("false")
            .example("true"),
        Attr::new("update_cache", Kind::Bool, "`apt-get update` / `dnf makecache` before changing anything")
            .default("false")
            .example("true"),
        Attr::new("lock_version", Kind::Bool, "hold at that version (`apt-mark hold`, `dnf versionlock`)")
            .default("false")
            .example("true"),
        Attr::new("post_cleanup", Kind::Bool, "autoremove afterwards")
            .default("false")
            .example("true"),
        Attr::new("flags", Kind::Str, "extra flags for the package manager").example("--no-install-recommends"),
    ],
    primary: "package",
    rules: &[version_only_when_present, lock_needs_version],
    ..super::BASE
};

/// `version` applies to one package and to state present only.
fn version_only_when_present(m: &Map<String, Value>) -> Result<(), (&'static str, String)> {
    if m.get("version").is_none_or(Value::is_null) {
        return Ok(());
    }
    if m.get("package")
        .and_then(list_items)
        .is_some_and(|n| n.len() != 1)
    {
        return Err(("version", "needs exactly one package name".into()));
    }
    if m.get("state").and_then(Value::as_str) != Some("present") {
        return Err(("version", "only applies to state present".into()));
    }
    Ok(())
}

/// `lock_version: true` holds the package at `version`, which must be given.
fn lock_needs_version(m: &Map<String, Value>) -> Result<(), (&'static str, String)> {
    let present = m.get("state").and_then(Value::as_str) == Some("present");
    if present && flag_set(m, "lock_version") && m.get("version").is_none_or(Value::is_null) {
        return Err((
            "lock_version",
            "needs `version` (the version to hold)".into(),
        ));
    }
    Ok(())
}

/// Whether `n` is a package name.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && !n.starts_with('-')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_' | ':'))
}

fn check_names(v: &Value) -> Result<(), String> {
    let names = list_items(v).unwrap_or_default();
    let all = names.len() == 1 && names[0] == "*";
    match names.iter().find(|n| !all && !valid_name(n)) {
        Some(bad) => Err(format!("\"{bad}\" is not a package name")),
        None => Ok(()),
    }
}

fn check_version(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(v) if v.is_empty() || v.contains(char::is_whitespace) => {
            Err("is not a version".into())
        }
        _ => Ok(()),
    }
}
