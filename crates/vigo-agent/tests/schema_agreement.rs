//! Publish (vigo-lang, at `config publish`) and the agent (vigo-exec's `prepare`, on every
//! envoy) must accept and refuse the same resources: a resource that publishes and then
//! fails on every envoy is the bug class this test exists for.
//!
//! The resources are generated from the type definitions (`vigo_core::types`): for every
//! type and every attribute, valid and invalid values of its kind, every allowed value,
//! its example; every required attribute left out (with `state` present and absent);
//! every pair of mutually exclusive attributes; all attributes at once. Each goes through
//! the real loader and resolver, and what they bundle (or, when publish refuses, the raw
//! attributes) goes through the executor's `prepare`. The verdicts must be equal. A table
//! of hand-written cases covers the rules beyond single attributes (regexes, group
//! references, option combinations), each with the verdict both sides must give.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use vigo_core::types::{self, Attr, Kind, Required, TypeDef};
use vigo_exec::contract::ResourceDecl;
use vigo_exec::executors::Registry;
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, Resolver};

/// What publish made of a resource: its bundled attributes, or the loader's error.
fn publish(type_name: &str, attrs: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut text = format!("configcrate: c\nresources:\n  - name: r\n    type: {type_name}\n");
    for (k, v) in attrs {
        // JSON is YAML: every value is written as its JSON text.
        text.push_str(&format!("    {k}: {v}\n"));
    }
    let tree = SourceTree::from_files([
        ("configcrates/c.vgo", text.as_str()),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        ),
    ]);
    let stack = vigo_lang::load(&tree).map_err(|e| e.to_string())?;
    let bundle = Resolver::new(Arc::new(stack), BundleMeta::default())
        .resolve("h", None)
        .map_err(|e| e.to_string())?;
    Ok(bundle.configcrates[0].resources[0].attributes.clone())
}

/// What the agent's executor says about these attributes.
fn prepare(type_name: &str, attrs: &Map<String, Value>) -> Result<(), String> {
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

/// Both verdicts for one resource, or a line describing the disagreement.
fn verdicts(type_name: &str, attrs: &Map<String, Value>) -> Result<bool, String> {
    let published = publish(type_name, attrs);
    let agent = match &published {
        // What the agent gets is what publish produced.
        Ok(bundled) => prepare(type_name, bundled),
        Err(_) => prepare(type_name, attrs),
    };
    if published.is_ok() == agent.is_ok() {
        Ok(published.is_ok())
    } else {
        Err(format!(
            "{type_name} {}: publish {published:?}, agent {agent:?}",
            Value::Object(attrs.clone())
        ))
    }
}

/// A value from YAML text (a definition's example).
fn yaml(text: &str) -> Value {
    vigo_lang::yaml::parse(text)
        .unwrap_or_else(|e| panic!("example {text:?}: {e:?}"))
        .to_json()
}

/// Values of the attribute's kind that should be accepted (as far as the kind goes).
fn valid(a: &Attr) -> Vec<Value> {
    let mut out = match a.kind {
        Kind::Str | Kind::Any => vec![json!("x")],
        Kind::Path => vec![json!("/srv/x")],
        Kind::Bool => vec![json!(true), json!("no")],
        Kind::Int => vec![json!(7), json!("7")],
        Kind::Mode => vec![json!("0644"), json!(644)],
        Kind::List => vec![json!(["a"]), json!("a,b")],
        Kind::Env => vec![json!(["A=b"]), json!("A=b"), json!({"A": "b"})],
        Kind::Enum(words) => words.iter().map(|w| json!(w)).collect(),
    };
    if !a.example.is_empty() {
        out.push(yaml(a.example));
    }
    out
}

/// Values of the attribute's kind that must be refused.
fn invalid(a: &Attr) -> Vec<Value> {
    match a.kind {
        Kind::Str => vec![json!(["x"]), json!({"x": 1}), json!(""), json!(" ")],
        Kind::Path => vec![json!("relative/x"), json!(["/x"])],
        Kind::Bool => vec![json!("maybe"), json!(["true"])],
        Kind::Int => vec![
            json!("abc"),
            json!(-1),
            json!(4_294_967_296_u64),
            json!({"n": 1}),
        ],
        Kind::Mode => vec![json!("0999"), json!("rw-r--r--"), json!(true)],
        Kind::List => vec![json!({"a": "b"}), json!([["nested"]])],
        Kind::Env => vec![json!(5), json!([["nested"]])],
        Kind::Enum(_) => vec![json!("bogus"), json!(["present"])],
        Kind::Any => Vec::new(),
    }
}

/// The smallest resource of a type that both sides accept: its required attributes
/// (with `state` present) at their first valid value.
fn base(t: &TypeDef) -> Map<String, Value> {
    let mut m = Map::new();
    for a in t.attrs {
        if a.required.applies(Some("present"), |_| false) {
            m.insert(a.name.into(), valid(a).remove(0));
        }
    }
    if let Some(state) = t.attr("state").filter(|s| s.required != Required::No) {
        m.insert("state".into(), valid(state).remove(0));
    }
    m
}

fn with(mut m: Map<String, Value>, key: &str, v: Value) -> Map<String, Value> {
    m.insert(key.into(), v);
    m
}

#[test]
fn publish_and_agent_agree_on_every_generated_resource() {
    let mut disagreements = Vec::new();
    let mut checked = 0;
    let mut accepted = 0;
    let mut record = |r: Result<bool, String>| {
        checked += 1;
        match r {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(d) => disagreements.push(d),
        }
    };
    for t in types::TYPES {
        let base = base(t);
        record(verdicts(t.name, &base));
        for a in t.attrs {
            for v in valid(a).into_iter().chain(invalid(a)) {
                let mut m = with(base.clone(), a.name, v.clone());
                // A state that always acts must be a notify target: a rule of the plan,
                // checked at publish (the agent's executor never sees `when`).
                if a.name == "state" && v.as_str().is_some_and(|s| t.notify_states.contains(&s)) {
                    m.insert("when".into(), json!("changed"));
                }
                record(verdicts(t.name, &m));
            }
            if base.contains_key(a.name) {
                let mut without = base.clone();
                without.remove(a.name);
                record(verdicts(t.name, &without));
                if t.attr("state").is_some() && a.name != "state" {
                    record(verdicts(t.name, &with(without, "state", json!("absent"))));
                }
            }
            for other in a.conflicts {
                let both = with(base.clone(), a.name, valid(a).remove(0));
                let other_attr = t.attr(other).expect("a defined attribute");
                let both = with(both, other, valid(other_attr).remove(0));
                record(match verdicts(t.name, &both) {
                    Ok(true) => Err(format!("{}: {} with {other} is accepted", t.name, a.name)),
                    other => other,
                });
            }
        }
        // Every attribute at its example, except the second of each exclusive pair.
        let mut all = base.clone();
        for a in t.attrs.iter().filter(|a| !a.example.is_empty()) {
            if !t
                .attrs
                .iter()
                .any(|b| b.conflicts.contains(&a.name) && all.contains_key(b.name))
                && !a.conflicts.iter().any(|c| all.contains_key(*c))
            {
                all.insert(a.name.into(), yaml(a.example));
            }
        }
        record(verdicts(t.name, &all));
    }
    assert!(
        disagreements.is_empty(),
        "publish and agent disagree on {} of {checked} resources:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The generator must produce both kinds of verdicts, or it checks nothing.
    assert!(
        checked > 600 && accepted > 250,
        "{checked} resources, {accepted} accepted"
    );
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
            "file",
            json!({"target_path": f, "state": "present", "revert": false}),
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
            json!({"target_path": f, "section": "s", "state": "present"}),
            REFUSE,
        ),
        (
            "service",
            json!({"service": "nginx", "state": "restarted", "when": "changed"}),
            ACCEPT,
        ),
        (
            "exec",
            json!({"command": "cat {{secret_file}}", "secret_file": "x"}),
            ACCEPT,
        ),
        (
            "user",
            json!({"username": "alice", "group": "staff", "gid": 5, "state": "present"}),
            REFUSE,
        ),
        (
            "cron",
            json!({"command": "/bin/true", "schedule": "99 * * * *", "state": "present"}),
            REFUSE,
        ),
    ]
}

/// The hand-written cases: each is accepted by both sides or refused by both, as it says.
#[test]
fn publish_and_agent_accept_and_refuse_the_same_rule_cases() {
    let mut wrong = Vec::new();
    for (type_name, attrs, expected) in cases() {
        let Value::Object(attrs) = attrs else {
            unreachable!()
        };
        match verdicts(type_name, &attrs) {
            Ok(v) if v == expected => {}
            Ok(v) => wrong.push(format!(
                "{type_name} {}: both {}, expected {}",
                Value::Object(attrs.clone()),
                if v { "accept" } else { "refuse" },
                if expected { "accepted" } else { "refused" },
            )),
            Err(d) => wrong.push(d),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
