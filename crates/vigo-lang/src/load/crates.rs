//! Configcrate and usercrate files: the crate's keys, its `defaults:`, and each resource
//! checked against the schema of its type (built-in or declared custom).
//!
//! A resource's `name:` defaults to its type's primary attribute (`target_path` for a
//! file, `package` for a package, `username` for a user, …). `defaults:` fill only the
//! attributes the resource's type accepts and the resource does not set.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::cx::{Cx, valid_name};
use super::edits;
use crate::diag::did_you_mean;
use crate::model::{CrateDef, CustomType, Named, ResourceDef};
use crate::schema::{self, ENGINE_ATTRS, Required, TypeSchema};

use crate::yaml::{Key, Kind, Node, Pos};
use crate::{secret, when};

const CRATE_KEYS: &[&str] = &[
    "configcrate",
    "name",
    "description",
    "vars",
    "defaults",
    "resources",
    "depends_on",
    "when",
    "foreach",
];

/// Which library a crate file belongs to.
pub(crate) enum CrateKind<'a> {
    /// `configcrates/`: named by `configcrate:` or `name:`.
    Config,
    /// `usercrates/<user>.vgo`: named by the file.
    User(&'a str),
}

/// What resource checks need to know about the rest of the tree.
pub(crate) struct Library<'a> {
    /// Declared custom types.
    pub custom: &'a BTreeMap<String, CustomType>,
    /// Template names.
    pub templates: &'a BTreeMap<String, String>,
}

/// Reads one crate file.
pub(crate) fn parse_crate(
    cx: &mut Cx<'_>,
    node: &Node,
    kind: &CrateKind<'_>,
    lib: &Library<'_>,
) -> Option<CrateDef> {
    let entries = cx.map(node, "", "a configcrate file")?;
    let what = match kind {
        CrateKind::Config => "configcrate",
        CrateKind::User(_) => "usercrate",
    };
    let given = |key: &str| entries.iter().find(|(k, _)| k.name == key);
    if let (Some((k1, _)), Some((k2, _))) = (given("configcrate"), given("name")) {
        cx.err(
            k2.pos.max(k1.pos),
            "",
            "give the crate's name as `configcrate:` or `name:`, not both",
        );
        return None;
    }
    let given_name = given("configcrate").or_else(|| given("name"));
    let name = match kind {
        CrateKind::User(stem) => {
            if let Some((_, n)) = given_name
                && let Some(written) = n.scalar_text()
                && written != *stem
            {
                cx.err(
                    n.pos,
                    "",
                    format!(
                        "usercrate file `usercrates/{stem}.vgo` must be named `{stem}`, not `{written}`"
                    ),
                );
            }
            (*stem).to_owned()
        }
        CrateKind::Config => match given_name {
            Some((k, n)) => cx.string(n, "", &k.name)?,
            None => {
                cx.err(
                    node.pos,
                    "",
                    "missing `configcrate:` (or `name:`): the crate's name",
                );
                return None;
            }
        },
    };
    let context = format!("{what} \"{name}\"");
    cx.keys(entries, CRATE_KEYS, &context);
    let foreach = given("foreach").and_then(|(k, n)| {
        cx.string(n, &context, &k.name)
            .map(|name| Named { name, pos: n.pos })
    });
    if !valid_name(&name) {
        cx.err(
            node.key_pos("configcrate").min(node.key_pos("name")),
            &context,
            "a crate name may hold only letters, digits, `_`, `-` and `.`",
        );
    }
    let vars = given("vars")
        .map(|(_, n)| cx.vars(n, &context))
        .unwrap_or_default();
    let depends_on = given("depends_on")
        .map(|(k, n)| cx.names(n, &context, &k.name))
        .unwrap_or_default();
    let when = given("when")
        .and_then(|(k, n)| {
            let w = cx.string(n, &context, &k.name)?;
            check_when(cx, &context, n.pos, &w, false);
            Some(w)
        })
        .unwrap_or_default();
    let defaults: &[(Key, Node)] = match given("defaults") {
        Some((_, n)) => cx.map(n, &context, "`defaults`").unwrap_or(&[]),
        None => &[],
    };
    for (k, _) in defaults {
        let known = ENGINE_ATTRS.contains(&k.name.as_str())
            || schema::TYPES.iter().any(|t| t.attr(&k.name).is_some())
            || lib
                .custom
                .values()
                .any(|c| c.attributes.as_ref().is_none_or(|a| a.contains(&k.name)));
        if !known || k.name == "name" || k.name == "type" {
            let all = schema::TYPES
                .iter()
                .flat_map(|t| t.attrs.iter().map(|a| a.name));
            cx.err_hint(
                k.pos,
                &context,
                format!("`defaults`: unknown attribute `{}`", k.name),
                did_you_mean(&k.name, all),
            );
        }
    }
    let mut resources = Vec::new();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    if let Some((_, list)) = given("resources") {
        match &list.kind {
            Kind::Seq(items) => {
                for item in items {
                    if let Some(r) = parse_resource(cx, &context, item, defaults, lib) {
                        if let Some(first) = seen.get(&r.name) {
                            cx.err(
                                r.origin.pos,
                                &context,
                                format!(
                                    "duplicate resource name `{}` (first defined at line {})",
                                    r.name, first.line
                                ),
                            );
                        } else {
                            seen.insert(r.name.clone(), r.origin.pos);
                        }
                        resources.push(r);
                    }
                }
            }
            Kind::Null => {}
            _ => cx.err(
                list.pos,
                &context,
                format!("`resources`: expected a list, found {}", list.type_word()),
            ),
        }
    }
    Some(CrateDef {
        name,
        origin: cx.origin(node.pos),
        vars,
        depends_on,
        when,
        foreach,
        resources,
        user: match kind {
            CrateKind::User(stem) => Some((*stem).to_owned()),
            CrateKind::Config => None,
        },
    })
}

/// Validates a `when:` string (`changed` only where allowed).
pub(crate) fn check_when(cx: &mut Cx<'_>, context: &str, pos: Pos, text: &str, changed_ok: bool) {
    if let Err(e) = secret::references(text) {
        cx.err(pos, context, format!("`when`: {e}"));
        return;
    }
    match when::parse(text) {
        Ok(when::When::Changed) if !changed_ok => cx.err(
            pos,
            context,
            "`when: \"changed\"` applies to resources, not to a whole crate",
        ),
        Ok(_) => {}
        Err(e) => cx.err(pos, context, format!("`when`: {e}")),
    }
}

/// The type of a resource: built-in schema or declared custom type.
enum TypeRef<'a> {
    Builtin(&'static TypeSchema),
    Custom(&'a CustomType),
}

impl TypeRef<'_> {
    fn accepts(&self, attr: &str) -> bool {
        match self {
            TypeRef::Builtin(t) => t.attr(attr).is_some(),
            TypeRef::Custom(c) => c
                .attributes
                .as_ref()
                .is_none_or(|a| a.iter().any(|x| x == attr)),
        }
    }
}

fn parse_resource(
    cx: &mut Cx<'_>,
    crate_ctx: &str,
    node: &Node,
    defaults: &[(Key, Node)],
    lib: &Library<'_>,
) -> Option<ResourceDef> {
    let entries = cx.map(node, crate_ctx, "a resource")?;
    let get = |key: &str| entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v);
    let name_given = get("name").and_then(Node::scalar_text);
    let provisional = match &name_given {
        Some(n) => format!("{crate_ctx} resource \"{n}\""),
        None => format!("{crate_ctx} resource #{}", node.pos.line),
    };
    let Some(type_node) = get("type") else {
        cx.err(node.pos, &provisional, "missing required attribute `type`");
        return None;
    };
    let type_name = cx.string(type_node, &provisional, "type")?;
    let ty = if let Some(t) = schema::lookup(&type_name) {
        TypeRef::Builtin(t)
    } else if let Some(c) = lib.custom.get(&type_name) {
        TypeRef::Custom(c)
    } else {
        let names = schema::TYPES
            .iter()
            .map(|t| t.name)
            .chain(lib.custom.keys().map(String::as_str));
        let hint = did_you_mean(&type_name, names)
            .or_else(|| Some("custom executor types must be declared in executors.vgo".to_owned()));
        cx.err_hint(
            type_node.pos,
            &provisional,
            format!("unknown resource type `{type_name}`"),
            hint,
        );
        return None;
    };
    // The resource's own entries, then defaults it does not set and its type accepts.
    let mut all: Vec<(&Key, &Node)> = entries.iter().map(|(k, v)| (k, v)).collect();
    for (k, v) in defaults {
        let engine =
            ENGINE_ATTRS.contains(&k.name.as_str()) && k.name != "name" && k.name != "type";
        if (engine || ty.accepts(&k.name)) && get(&k.name).is_none() {
            all.push((k, v));
        }
    }
    let name = match name_given {
        Some(n) => n,
        None => {
            let primary = match &ty {
                TypeRef::Builtin(t) => t.primary,
                TypeRef::Custom(_) => "",
            };
            match all
                .iter()
                .find(|(k, _)| !primary.is_empty() && k.name == primary)
                .and_then(|(_, v)| v.scalar_text())
            {
                Some(n) => n,
                None => {
                    cx.err(node.pos, &provisional, "missing required attribute `name`");
                    return None;
                }
            }
        }
    };
    let context = format!("{crate_ctx} resource \"{name}\"");
    let mut r = ResourceDef {
        type_name: type_name.clone(),
        name,
        attrs: Map::new(),
        attr_pos: BTreeMap::new(),
        depends_on: Vec::new(),
        before: Vec::new(),
        notify: Vec::new(),
        subscribes: Vec::new(),
        when: String::new(),
        timeout_secs: 0,
        foreach: None,
        origin: cx.origin(node.pos),
    };
    let mut revert: Option<(bool, Pos)> = None;
    for (k, v) in &all {
        let key = k.name.as_str();
        r.attr_pos.insert(k.name.clone(), k.pos);
        match key {
            "name" | "type" => {}
            "when" => {
                if let Some(w) = cx.string(v, &context, key) {
                    check_when(cx, &context, v.pos, &w, true);
                    r.when = w;
                }
            }
            "depends_on" => r.depends_on = cx.names(v, &context, key),
            "before" => r.before = cx.names(v, &context, key),
            "notify" => r.notify = cx.names(v, &context, key),
            "subscribes" => r.subscribes = cx.names(v, &context, key),
            "foreach" => {
                r.foreach = cx.string(v, &context, key).map(|name| Named { name, pos: v.pos });
            }
            "timeout" | "timeout_secs" => match v.scalar_text().map(|t| timeout_secs(&t)) {
                Some(Ok(secs)) => r.timeout_secs = secs,
                Some(Err(expected)) => cx.err(
                    v.pos,
                    &context,
                    format!("attribute `{key}`: {expected}"),
                ),
                None => cx.err(
                    v.pos,
                    &context,
                    format!(
                        "attribute `{key}`: expected {}, found {}",
                        vigo_core::duration::EXPECTED,
                        v.type_word()
                    ),
                ),
            },
            "revert" => {
                if let Some(b) = cx.boolean(v, &context, key) {
                    revert = Some((b, k.pos));
                    r.attrs.insert("revert".into(), Value::Bool(b));
                }
            }
            "on_revert" => {
                if let Some(s) = cx.string(v, &context, key) {
                    r.attrs.insert("on_revert".into(), Value::String(s));
                }
            }
            "sensitive" => {
                if let Some(b) = cx.boolean(v, &context, key) {
                    r.attrs.insert("sensitive".into(), Value::Bool(b));
                }
            }
            "case" => cx.err(
                k.pos,
                &context,
                "`case:` on a resource is not supported; write one resource per case, each with `when: \"os_family('…')\"`",
            ),
            _ => match &ty {
                TypeRef::Builtin(t) => match t.attr(key) {
                    Some(a) => match schema::normalise(a.kind, v) {
                        Ok(value) => {
                            r.attrs.insert(k.name.clone(), value);
                        }
                        Err(e) => cx.err(v.pos, &context, format!("attribute `{key}`: {e}")),
                    },
                    None => {
                        let names = t.attrs.iter().map(|a| a.name).chain(ENGINE_ATTRS.iter().copied());
                        cx.err_hint(
                            k.pos,
                            &context,
                            format!("unknown attribute `{key}` for type {}", t.name),
                            did_you_mean(key, names),
                        );
                    }
                },
                TypeRef::Custom(c) => {
                    if ty.accepts(key) {
                        r.attrs.insert(k.name.clone(), v.to_json());
                    } else {
                        let names = c.attributes.iter().flatten().map(String::as_str);
                        cx.err_hint(
                            k.pos,
                            &context,
                            format!("unknown attribute `{key}` for custom type {}", c.name),
                            did_you_mean(key, names),
                        );
                    }
                }
            },
        }
    }
    check_required(cx, &context, node.pos, &ty, &r);
    check_type_rules(cx, &context, &ty, &mut r, lib);
    if let Some((on, pos)) = revert {
        let revertible = matches!(ty, TypeRef::Builtin(t) if t.revertible);
        if !revertible {
            cx.err(
                pos,
                &context,
                format!("`revert` is not supported by type {type_name} (only by replace)"),
            );
        } else if on {
            cx.err(
                pos,
                &context,
                "`revert: true` is not supported yet: the agent does not run `on_revert` (undo the change with another resource)",
            );
        }
    }
    for (key, value) in &r.attrs {
        if let Err(e) = secret::check_value(value) {
            cx.err(r.pos_of(key), &context, format!("attribute `{key}`: {e}"));
        }
        check_templates(cx, &context, r.pos_of(key), key, value);
    }
    if schema::is_templated(&r.name) {
        check_templates(
            cx,
            &context,
            r.pos_of("name"),
            "name",
            &Value::String(r.name.clone()),
        );
    }
    if let TypeRef::Builtin(_) = ty
        && let Err(v) = vigo_core::guardrails::check("", &r.name, &type_name, &r.attrs)
    {
        let text = v.0;
        let why = text.split_once("\": ").map_or(text.as_str(), |(_, w)| w);
        cx.err(r.origin.pos, &context, format!("guardrail: {why}"));
    }
    Some(r)
}

fn check_required(cx: &mut Cx<'_>, context: &str, pos: Pos, ty: &TypeRef<'_>, r: &ResourceDef) {
    match ty {
        TypeRef::Builtin(t) => {
            let state = r.attrs.get("state").and_then(Value::as_str);
            for a in t.attrs {
                if r.attrs.contains_key(a.name) || r.attr_pos.contains_key(a.name) {
                    continue;
                }
                match a.required {
                    Required::Yes => cx.err(
                        pos,
                        context,
                        format!(
                            "missing required attribute `{}` for type {}",
                            a.name, t.name
                        ),
                    ),
                    Required::WhenPresent if t.is_present(state) => cx.err(
                        pos,
                        context,
                        format!(
                            "missing attribute `{}`, required when state is present",
                            a.name
                        ),
                    ),
                    Required::WhenPresentUnless(flag)
                        if t.is_present(state) && r.attrs.get(flag) != Some(&Value::Bool(true)) =>
                    {
                        cx.err(
                            pos,
                            context,
                            format!(
                                "missing attribute `{}`, required when state is present (or set `{flag}: true`)",
                                a.name
                            ),
                        );
                    }
                    Required::WhenPresent | Required::WhenPresentUnless(_) | Required::No => {}
                }
            }
        }
        TypeRef::Custom(c) => {
            for name in &c.required {
                if !r.attrs.contains_key(name) {
                    cx.err(
                        pos,
                        context,
                        format!(
                            "missing required attribute `{name}` for custom type {}",
                            c.name
                        ),
                    );
                }
            }
        }
    }
}

/// Rules of single types beyond attribute kinds.
fn check_type_rules(
    cx: &mut Cx<'_>,
    context: &str,
    ty: &TypeRef<'_>,
    r: &mut ResourceDef,
    lib: &Library<'_>,
) {
    let TypeRef::Builtin(t) = ty else { return };
    match t.name {
        "file" => {
            if r.attrs.contains_key("content") && r.attrs.contains_key("source") {
                cx.err(
                    r.pos_of("source"),
                    context,
                    "`content` and `source` are mutually exclusive",
                );
            }
            if let Some(Value::String(src)) = r.attrs.get("source").cloned() {
                let name = src.strip_prefix("templates/").unwrap_or(&src).to_owned();
                if !schema::is_templated(&name) && !lib.templates.contains_key(&name) {
                    cx.err_hint(
                        r.pos_of("source"),
                        context,
                        format!("attribute `source`: no template `{name}` under templates/"),
                        did_you_mean(&name, lib.templates.keys().map(String::as_str)),
                    );
                }
                r.attrs.insert("source".into(), Value::String(name));
            }
        }
        "service" => {
            let state = r.attrs.get("state").and_then(Value::as_str).unwrap_or("");
            if matches!(state, "restarted" | "reloaded") && r.when != "changed" {
                cx.err(
                    r.pos_of("state"),
                    context,
                    format!(
                        "`state: {state}` always reports a change: gate it with `when: \"changed\"` and trigger it with `notify`"
                    ),
                );
            }
        }
        "exec" => {
            let command = r.attrs.get("command").and_then(Value::as_str).unwrap_or("");
            let placeholder = command.contains(secret::SECRET_FILE_PLACEHOLDER);
            match (r.attrs.contains_key("secret_file"), placeholder) {
                (true, false) => cx.err(
                    r.pos_of("secret_file"),
                    context,
                    format!(
                        "attribute `secret_file`: `command` must use `{}`, which is replaced by the path of the file holding it",
                        secret::SECRET_FILE_PLACEHOLDER
                    ),
                ),
                (false, true) => cx.err(
                    r.pos_of("command"),
                    context,
                    format!(
                        "attribute `command` uses `{}` but `secret_file` is not set",
                        secret::SECRET_FILE_PLACEHOLDER
                    ),
                ),
                _ => {}
            }
        }
        "file_line" | "blockinfile" | "replace" | "ini" => edits::check(cx, context, t.name, r),
        "cron" => super::schedules::check_cron(cx, context, r),
        _ => {}
    }
}

/// Parses every template held in a string of `value`, so a bad template fails at publish.
fn check_templates(cx: &mut Cx<'_>, context: &str, pos: Pos, key: &str, value: &Value) {
    match value {
        Value::String(s) if schema::is_templated(s) => match secret::parse_attribute(key, s) {
            Err(e) => cx.err(
                pos,
                context,
                format!(
                    "attribute `{key}`: bad template at {}:{}: {}",
                    e.line, e.col, e.message
                ),
            ),
            Ok(t) => {
                if let Some(bad) = crate::trait_refs::check(&t) {
                    cx.err(pos, context, format!("attribute `{key}`: {}", bad.message));
                }
            }
        },
        Value::Array(items) => items
            .iter()
            .for_each(|v| check_templates(cx, context, pos, key, v)),
        Value::Object(m) => m
            .values()
            .for_each(|v| check_templates(cx, context, pos, key, v)),
        _ => {}
    }
}

/// A resource's `timeout` in whole seconds (the bundle carries seconds), or what is wrong:
/// the workspace's one duration grammar, at most `u32::MAX` seconds, no fraction of a second.
fn timeout_secs(text: &str) -> Result<u32, String> {
    let d = vigo_core::duration::parse(text).map_err(|e| e.to_string())?;
    if d.subsec_nanos() != 0 {
        return Err(format!(
            "expected a whole number of seconds (a timeout has no fraction of a second), found {text:?}"
        ));
    }
    u32::try_from(d.as_secs()).map_err(|_| {
        format!(
            "expected a timeout of at most {} seconds, found {text:?}",
            u32::MAX
        )
    })
}
