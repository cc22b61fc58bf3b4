//! The loader's attribute schema (vigo-lang, checked at publish) and the executors (vigo-exec,
//! run on the agent) must agree: an attribute the schema accepts but the executor does not
//! would pass `config publish` and then fail on every envoy. For every built-in type and
//! every attribute, a one-resource stack goes through the real loader and resolver, and the
//! attributes it produces go through the executor's `prepare`; no "unknown attribute" may
//! come back. For the partial-file types, a table of resources (bad patterns, group
//! references, option combinations) must be accepted by both sides or refused by both.

use std::sync::Arc;

use serde_json::{Value, json};
use vigo_exec::contract::ResourceDecl;
use vigo_exec::executors::Registry;
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, Resolver};
use vigo_lang::schema::{self, AttrKind, Required};

fn sample(kind: AttrKind) -> String {
    match kind {
        AttrKind::Str | AttrKind::Any => "\"x\"".into(),
        AttrKind::Path => "/srv/x".into(),
        AttrKind::Bool => "true".into(),
        AttrKind::Int => "7".into(),
        AttrKind::Mode => "\"0644\"".into(),
        AttrKind::List => "[a]".into(),
        AttrKind::Env => "[\"A=b\"]".into(),
        AttrKind::Enum(words) => words[0].into(),
    }
}

/// A sample for attributes whose strings have a grammar of their own (checked at publish
/// by the rules beyond the attribute table), else the kind's sample.
fn sample_of(type_name: &str, attr: &str, kind: AttrKind) -> String {
    match (type_name, attr) {
        ("cron", "schedule") => "\"@daily\"".into(),
        ("cron", "minute" | "hour" | "day" | "month" | "weekday") => "\"5\"".into(),
        _ => sample(kind),
    }
}

/// The attributes the resolver puts in the bundle for one resource, or `None` when the
/// loader refuses the combination (mutually exclusive attributes and the like).
fn bundled(type_name: &str, lines: &[(String, String)]) -> Option<serde_json::Map<String, Value>> {
    let mut text = format!("configcrate: c\nresources:\n  - name: r\n    type: {type_name}\n");
    for (k, v) in lines {
        text.push_str(&format!("    {k}: {v}\n"));
    }
    let tree = SourceTree::from_files([
        ("configcrates/c.vgo", text.as_str()),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        ),
    ]);
    let stack = vigo_lang::load(&tree).ok()?;
    let bundle = Resolver::new(Arc::new(stack), BundleMeta::default())
        .resolve("h", None)
        .ok()?;
    Some(bundle.configcrates[0].resources[0].attributes.clone())
}

#[test]
fn every_schema_attribute_is_accepted_by_its_executor() {
    let registry = Registry::builtin();
    let mut checked = 0;
    let mut refused_by_loader = Vec::new();
    for ty in schema::TYPES {
        let executor = registry
            .get(ty.name)
            .unwrap_or_else(|| panic!("schema type `{}` has no executor", ty.name));
        let required: Vec<(String, String)> = ty
            .attrs
            .iter()
            .filter(|a| a.required != Required::No)
            .map(|a| (a.name.to_owned(), sample_of(ty.name, a.name, a.kind)))
            .collect();
        for attr in ty.attrs.iter().filter(|a| a.required == Required::No) {
            let mut lines = required.clone();
            lines.push((
                attr.name.to_owned(),
                sample_of(ty.name, attr.name, attr.kind),
            ));
            let Some(attributes) = bundled(ty.name, &lines) else {
                refused_by_loader.push(format!("{}.{}", ty.name, attr.name));
                continue;
            };
            let decl = ResourceDecl {
                type_name: ty.name,
                name: "r",
                attributes: &attributes,
            };
            if let Err(e) = executor.prepare(&decl) {
                let msg = e.to_string();
                assert!(
                    !msg.contains("unknown attribute"),
                    "{}: the loader accepts `{}` but the executor does not: {msg}",
                    ty.name,
                    attr.name
                );
            }
            checked += 1;
        }
    }
    // Nearly every combination must reach the executor, or this test checks nothing (the
    // few the loader refuses need a real template or regex as their value).
    assert!(
        checked >= 70 && refused_by_loader.len() <= 6,
        "only {checked} attributes reached an executor; refused by the loader: {refused_by_loader:?}"
    );
}

/// Whether the agent's executor accepts these attributes.
fn prepare(type_name: &str, attrs: &serde_json::Map<String, Value>) -> Result<(), String> {
    let registry = Registry::builtin();
    let executor = registry.get(type_name).expect("a built-in type");
    executor
        .prepare(&ResourceDecl {
            type_name,
            name: "r",
            attributes: attrs,
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

const ACCEPT: bool = true;
const REFUSE: bool = false;

fn cases() -> Vec<(&'static str, Value, bool)> {
    let f = "/srv/app.conf";
    vec![
        (
            "replace",
            json!({"target_path": f, "match_pattern": "^x=(\\d+)$", "replacement": "x=${1}0", "region_start": "^\\[a\\]", "region_end": "^\\["}),
            ACCEPT,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "a", "replacement": "b", "revert": false}),
            ACCEPT,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "a", "replacement": "b", "revert": true, "on_revert": "true"}),
            REFUSE,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "v(\\d)", "replacement": "v$1_new"}),
            REFUSE,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "v(\\d)", "replacement": "v${1}_new"}),
            ACCEPT,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "(a)", "replacement": "$5"}),
            REFUSE,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "", "replacement": "x"}),
            REFUSE,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "(", "replacement": "x"}),
            REFUSE,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "a", "replacement": "b", "region_end": "["}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "x", "match_pattern": "", "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "x", "region_start": "(", "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "x", "position": "after:", "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "x", "position": "middle", "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "x", "position": "before:^y", "state": "present"}),
            ACCEPT,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "$1", "backrefs": true, "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "k=$2", "match_pattern": "^k=(.*)$", "backrefs": true, "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "k=${1}0", "match_pattern": "^k=(.*)$", "backrefs": true, "state": "present"}),
            ACCEPT,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "k=$1", "match_pattern": "^k=(.*)$", "backrefs": true, "position": "begin", "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "match_pattern": "^k=", "backrefs": true, "state": "absent"}),
            REFUSE,
        ),
        (
            "blockinfile",
            json!({"target_path": f, "block_content": "b", "insertbefore": "BOF", "state": "present"}),
            ACCEPT,
        ),
        (
            "blockinfile",
            json!({"target_path": f, "block_content": "b", "insertafter": "^# tail", "state": "present"}),
            ACCEPT,
        ),
        (
            "blockinfile",
            json!({"target_path": f, "block_content": "b", "insertafter": "a", "insertbefore": "b", "state": "present"}),
            REFUSE,
        ),
        (
            "blockinfile",
            json!({"target_path": f, "block_content": "b", "insertafter": "(", "state": "present"}),
            REFUSE,
        ),
        (
            "ini",
            json!({"target_path": f, "section": "s", "state": "absent"}),
            ACCEPT,
        ),
        ("ini", json!({"target_path": f, "state": "absent"}), REFUSE),
        (
            "ini",
            json!({"target_path": f, "key": "skip-name-resolve", "allow_no_value": true, "state": "present"}),
            ACCEPT,
        ),
        (
            "ini",
            json!({"target_path": f, "key": "k", "state": "present"}),
            REFUSE,
        ),
        (
            "ini",
            json!({"target_path": f, "section": "s", "state": "present"}),
            REFUSE,
        ),
        (
            "file_line",
            json!({"target_path": f, "line": "x", "follow": false, "state": "present"}),
            ACCEPT,
        ),
        (
            "blockinfile",
            json!({"target_path": f, "block_content": "x", "follow": false, "state": "present"}),
            ACCEPT,
        ),
        (
            "replace",
            json!({"target_path": f, "match_pattern": "a", "replacement": "b", "follow": false}),
            ACCEPT,
        ),
        (
            "ini",
            json!({"target_path": f, "key": "k", "value": "v", "follow": false, "state": "present"}),
            ACCEPT,
        ),
        (
            "json_file",
            json!({"target_path": f, "key": "k", "value": 1, "follow": false, "state": "present"}),
            ACCEPT,
        ),
        (
            "host",
            json!({"hostname": "h", "ip": "10.0.0.1", "follow": false, "state": "present"}),
            ACCEPT,
        ),
    ]
}

/// Publish (the loader) and the agent (`prepare`) agree on the partial-file types: every
/// resource below is accepted by both or refused by both, and each case says which, so
/// the test fails when either side drifts. Before, `replace` with `region_start` was
/// refused at publish but ran on the agent, and `revert: true` published but failed on
/// every envoy.
#[test]
fn publish_and_agent_accept_and_refuse_the_same_edit_resources() {
    let mut disagreements = Vec::new();
    for (type_name, attrs, expected) in cases() {
        let Value::Object(attrs) = attrs else {
            unreachable!()
        };
        let lines: Vec<(String, String)> = attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        // JSON is YAML: every value is written as its JSON text.
        let published = bundled(type_name, &lines).ok_or("refused by the loader");
        let agent = match &published {
            // What the agent gets is what publish produced.
            Ok(bundled) => prepare(type_name, bundled),
            Err(_) => prepare(type_name, &attrs),
        };
        let verdicts = (published.is_ok(), agent.is_ok());
        if verdicts != (expected, expected) {
            disagreements.push(format!(
                "{type_name} {}: expected {}, publish {published:?}, agent {agent:?}",
                Value::Object(attrs.clone()),
                if expected { "accepted" } else { "refused" },
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "publish and agent disagree:\n{}",
        disagreements.join("\n")
    );
}
