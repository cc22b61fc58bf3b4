//! `cron`: a job in `/etc/cron.d/<name>`.

use serde_json::{Map, Value};

use super::{Attr, Kind, Required, STATE, TypeDef, list_items};

/// The `cron` type.
pub const TYPE: TypeDef = TypeDef {
    name: "cron",
    doc: "A job in `/etc/cron.d/<name>` (names of letters, digits, `_`, `-`); a `cron` resource needs a `name:`.",
    example: r#"- name: backup-nightly
  type: cron
  command: /usr/local/bin/backup
  schedule: "30 2 * * *"
  state: present"#,
    attrs: &[
        STATE,
        Attr::new("command", Kind::Str, "the job's command")
            .check(check_single_line)
            .required(Required::WhenPresent)
            .example("/usr/local/bin/backup"),
        Attr::new(
            "schedule",
            Kind::Str,
            "five fields or `@daily`, `@hourly`, `@reboot`, …; overrides the fields",
        )
        .example("\"30 2 * * *\""),
        Attr::new("minute", Kind::Str, "minute field (0–59)")
            .default("*")
            .example("\"30\""),
        Attr::new("hour", Kind::Str, "hour field (0–23)")
            .default("*")
            .example("\"2\""),
        Attr::new("day", Kind::Str, "day-of-month field (1–31)")
            .default("*")
            .example("\"1\""),
        Attr::new("month", Kind::Str, "month field (1–12 or `jan`–`dec`)")
            .default("*")
            .example("\"6\""),
        Attr::new("weekday", Kind::Str, "weekday field (0–7 or `sun`–`sat`)")
            .default("*")
            .example("\"1-5\""),
        Attr::new("user", Kind::Str, "the user the job runs as")
            .default("root")
            .example("backup"),
        Attr::new(
            "environment",
            Kind::List,
            "`KEY=VALUE` lines before the job",
        )
        .check(check_environment)
        .example("[\"MAILTO=ops@example.com\"]"),
    ],
    rules: &[command_when_present],
    ..super::BASE
};

/// Each `environment` line is `KEY=VALUE`.
pub fn check_environment_line(line: &str) -> Result<(), String> {
    if line.contains('=') {
        Ok(())
    } else {
        Err(format!("expected KEY=VALUE, found \"{line}\""))
    }
}

fn check_environment(v: &Value) -> Result<(), String> {
    list_items(v).map_or(Ok(()), |lines| {
        lines.iter().try_for_each(|l| check_environment_line(l))
    })
}

fn check_single_line(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(c) if c.contains('\n') => Err("must be a single line".into()),
        _ => Ok(()),
    }
}

/// With state present, the command is not blank.
fn command_when_present(m: &Map<String, Value>) -> Result<(), (&'static str, String)> {
    let present = m.get("state").and_then(Value::as_str) == Some("present");
    match m.get("command").and_then(Value::as_str) {
        Some(c) if present && c.trim().is_empty() => {
            Err(("command", "is required when state is present".into()))
        }
        _ => Ok(()),
    }
}
