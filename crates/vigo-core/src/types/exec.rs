//! `exec`: a command, guarded so it runs only when needed.

use serde_json::Value;

use super::{Attr, Kind, Required, TypeDef, list_items, value};

/// The `exec` type.
pub const TYPE: TypeDef = TypeDef {
    name: "exec",
    doc: "A command run with `sh -c`, guarded by `creates`, `unless` or `onlyif` so it runs only when needed.",
    example: r#"- name: build-index
  type: exec
  command: /usr/local/bin/reindex
  creates: /var/lib/app/index.db
  timeout: 30m
- name: load-schema
  type: exec
  command: "psql -h db.internal -U app -f /srv/app/schema.sql --set=ON_ERROR_STOP=1 -W < {{secret_file}}"
  secret_file: "secret:app/db/password"
  unless: "test -f /srv/app/.schema-loaded""#,
    attrs: &[
        Attr::new("command", Kind::Str, "run with `sh -c`")
        .check(check_command)
            .required(Required::Yes)
            .example("/usr/local/bin/reindex"),
        Attr::new("onlyif", Kind::Str, "precondition: `skipped` when it fails").example("\"test -d /srv/app\""),
        Attr::new("unless", Kind::Str, "in sync when this command succeeds").example("\"test -f /srv/app/.done\""),
        Attr::new("creates", Kind::Path, "in sync once this path exists").example("/var/lib/app/index.db"),
        Attr::new("stdin", Kind::Str, "fed to the command").example("\"yes\\n\""),
        Attr::new("secret_file", Kind::Str, "written to a private tmpfs file (0600) whose path replaces `{{secret_file}}` in `command`; removed after")
        .conflicts(&["stdin"])
            .example("\"secret:app/db/password\""),
        Attr::new("cwd", Kind::Path, "working directory").example("/srv/app"),
        Attr::new("user", Kind::Str, "run as this user (with their groups and HOME)").example("www-data"),
        Attr::new("environment", Kind::Env, "`KEY=VALUE,…`, a list, or a map").example("[\"LANG=C\"]"),
        Attr::new("returns", Kind::List, "acceptable exit codes, `\"0,2\"`")
        .check(check_returns).default("0").example("\"0,2\""),
        Attr::new("logoutput", Kind::Bool, "include output in failure messages")
            .default("true")
            .example("false"),
        Attr::new("background", Kind::Bool, "start and return (nice 19 unless `nice`)")
            .default("false")
            .example("true"),
        Attr::new("nice", Kind::Int, "0–19, CPU and I/O priority")
            .check(check_nice).default("0").example("10"),
    ],
    primary: "command",
    ..super::BASE
};

/// The exit codes of `returns`.
pub fn exit_codes(codes: &[String]) -> Result<Vec<i32>, String> {
    codes
        .iter()
        .map(|c| {
            c.trim()
                .parse::<i32>()
                .map_err(|_| format!("expected exit codes like \"0,2\", found \"{c}\""))
        })
        .collect()
}

fn check_returns(v: &Value) -> Result<(), String> {
    list_items(v).map_or(Ok(()), |codes| exit_codes(&codes).map(drop))
}

/// The highest `nice` (the lowest priority).
pub const MAX_NICE: u32 = 19;

fn check_nice(v: &Value) -> Result<(), String> {
    match value::whole_number(v) {
        Ok(n) if n > MAX_NICE => Err(format!("expected 0 to {MAX_NICE}, found {n}")),
        _ => Ok(()),
    }
}

fn check_command(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(c) if c.trim().is_empty() => Err("is empty".into()),
        _ => Ok(()),
    }
}
