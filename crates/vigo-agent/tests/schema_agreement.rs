//! The loader's attribute schema (vigo-lang, checked at publish) and the executors (vigo-exec,
//! run on the agent) must agree: an attribute the schema accepts but the executor does not
//! would pass `config publish` and then fail on every envoy. For every built-in type and
//! every attribute, a one-resource stack goes through the real loader and resolver, and the
//! attributes it produces go through the executor's `prepare`; no "unknown attribute" may
//! come back.

use std::sync::Arc;

use serde_json::Value;
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
            .map(|a| (a.name.to_owned(), sample(a.kind)))
            .collect();
        for attr in ty.attrs.iter().filter(|a| a.required == Required::No) {
            let mut lines = required.clone();
            lines.push((attr.name.to_owned(), sample(attr.kind)));
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
