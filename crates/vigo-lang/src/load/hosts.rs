//! The files that bind crates to envoys: `roles.vgo`, hostcrates (`envoys:` match blocks),
//! `common.vgo`, `environments.vgo`, and `executors.vgo` (declared custom types).

use std::collections::BTreeMap;

use super::cx::{Cx, valid_name};
use crate::glob::Pattern;
use crate::model::{Common, CustomType, EnvBlock, EnvFile, MatchBlock, Named, Role};
use crate::yaml::{Kind, Node};

/// Reads `roles.vgo`.
pub(crate) fn parse_roles(cx: &mut Cx<'_>, node: &Node) -> BTreeMap<String, Role> {
    let mut roles = BTreeMap::new();
    let Some(top) = cx.map(node, "", "roles.vgo") else {
        return roles;
    };
    cx.keys(top, &["roles"], "");
    let Some(list) = node.get("roles") else {
        return roles;
    };
    let Some(entries) = cx.map(list, "", "`roles`") else {
        return roles;
    };
    for (k, v) in entries {
        let context = format!("role \"{}\"", k.name);
        if !valid_name(&k.name) {
            cx.err(
                k.pos,
                &context,
                "a role name may hold only letters, digits, `_`, `-` and `.`",
            );
        }
        let Some(fields) = cx.map(v, &context, "a role") else {
            continue;
        };
        cx.keys(
            fields,
            &[
                "configcrates",
                "includes",
                "case",
                "usercrates",
                "description",
            ],
            &context,
        );
        let names = |cx: &mut Cx<'_>, key: &str| {
            v.get(key)
                .map(|n| cx.names(n, &context, key))
                .unwrap_or_default()
        };
        let configcrates = names(cx, "configcrates");
        let includes = names(cx, "includes");
        let usercrates = names(cx, "usercrates");
        let mut case = Vec::new();
        if let Some(c) = v.get("case")
            && let Some(families) = cx.map(c, &context, "`case`")
        {
            for (fam, crates) in families {
                let list = cx.names(crates, &context, &format!("case.{}", fam.name));
                case.push((
                    Named {
                        name: fam.name.clone(),
                        pos: fam.pos,
                    },
                    list,
                ));
            }
        }
        roles.insert(
            k.name.clone(),
            Role {
                name: k.name.clone(),
                origin: cx.origin(k.pos),
                configcrates,
                includes,
                case,
                usercrates,
            },
        );
    }
    roles
}

const BLOCK_KEYS: &[&str] = &[
    "match",
    "environment",
    "roles",
    "configcrates",
    "modules",
    "usercrates",
    "vars",
    "observe_only",
    "description",
];

/// Reads a hostcrate's match blocks, in file order.
pub(crate) fn parse_hostcrate(cx: &mut Cx<'_>, node: &Node, dir: &str) -> Vec<MatchBlock> {
    let mut blocks = Vec::new();
    let Some(top) = cx.map(node, "", "a hostcrate") else {
        return blocks;
    };
    let Some(list) = node.get("envoys").or_else(|| node.get("nodes")) else {
        cx.err(
            node.pos,
            "",
            "a hostcrate needs `envoys:`, a list of match blocks (every .vgo file outside \
             configcrates/, usercrates/ and templates/ is a hostcrate, except roles.vgo, \
             executors.vgo, common.vgo and environments.vgo)",
        );
        return blocks;
    };
    cx.keys(top, &["envoys", "nodes"], "");
    let items: &[Node] = match &list.kind {
        Kind::Seq(items) => items,
        Kind::Null => &[],
        _ => {
            cx.err(
                list.pos,
                "",
                format!("`envoys`: expected a list, found {}", list.type_word()),
            );
            return blocks;
        }
    };
    for item in items {
        let Some(fields) = cx.map(item, "", "a match block") else {
            continue;
        };
        let pattern_text = item.get("match").and_then(Node::scalar_text);
        let context = match &pattern_text {
            Some(p) => format!("match block \"{p}\""),
            None => format!("match block #{}", item.pos.line),
        };
        cx.keys(fields, BLOCK_KEYS, &context);
        let Some(text) = pattern_text else {
            cx.err(item.pos, &context, "missing required key `match`");
            continue;
        };
        let pattern = match Pattern::new(&text) {
            Ok(p) => p,
            Err(e) => {
                cx.err(item.key_pos("match"), &context, format!("`match`: {e}"));
                continue;
            }
        };
        let names = |cx: &mut Cx<'_>, key: &str| {
            item.get(key)
                .map(|n| cx.names(n, &context, key))
                .unwrap_or_default()
        };
        let mut configcrates = names(cx, "configcrates");
        configcrates.extend(names(cx, "modules"));
        let environment = item.get("environment").and_then(|n| {
            cx.string(n, &context, "environment")
                .map(|name| Named { name, pos: n.pos })
        });
        blocks.push(MatchBlock {
            origin: cx.origin(item.pos),
            dir: dir.to_owned(),
            pattern,
            environment,
            roles: names(cx, "roles"),
            configcrates,
            usercrates: names(cx, "usercrates"),
            vars: item
                .get("vars")
                .map(|n| cx.vars(n, &context))
                .unwrap_or_default(),
            observe_only: item
                .get("observe_only")
                .and_then(|n| cx.boolean(n, &context, "observe_only"))
                .unwrap_or(false),
        });
    }
    blocks
}

/// Reads a `common.vgo`.
pub(crate) fn parse_common(cx: &mut Cx<'_>, node: &Node) -> Common {
    let mut common = Common {
        file: cx.file.to_owned(),
        ..Common::default()
    };
    let Some(top) = cx.map(node, "", "common.vgo") else {
        return common;
    };
    cx.keys(top, &["vars", "usercrates", "description"], "common.vgo");
    if let Some(v) = node.get("vars") {
        common.vars = cx.vars(v, "common.vgo");
    }
    if let Some(u) = node.get("usercrates") {
        common.usercrates = cx.names(u, "common.vgo", "usercrates");
    }
    common
}

/// Reads an `environments.vgo`.
pub(crate) fn parse_environments(cx: &mut Cx<'_>, node: &Node) -> EnvFile {
    let mut file = EnvFile {
        file: cx.file.to_owned(),
        ..EnvFile::default()
    };
    let Some(top) = cx.map(node, "", "environments.vgo") else {
        return file;
    };
    cx.keys(top, &["env"], "");
    let Some(envs) = node.get("env") else {
        return file;
    };
    let Some(entries) = cx.map(envs, "", "`env`") else {
        return file;
    };
    for (k, v) in entries {
        let context = format!("environment \"{}\"", k.name);
        let Some(fields) = cx.map(v, &context, "an environment") else {
            continue;
        };
        cx.keys(
            fields,
            &[
                "vars",
                "configcrates",
                "exclude_configcrates",
                "modules",
                "exclude_modules",
            ],
            &context,
        );
        let names = |cx: &mut Cx<'_>, key: &str| {
            v.get(key)
                .map(|n| cx.names(n, &context, key))
                .unwrap_or_default()
        };
        let mut configcrates = names(cx, "configcrates");
        configcrates.extend(names(cx, "modules"));
        let mut exclude = names(cx, "exclude_configcrates");
        exclude.extend(names(cx, "exclude_modules"));
        file.envs.insert(
            k.name.clone(),
            EnvBlock {
                origin: cx.origin(k.pos),
                vars: v
                    .get("vars")
                    .map(|n| cx.vars(n, &context))
                    .unwrap_or_default(),
                configcrates,
                exclude_configcrates: exclude,
            },
        );
    }
    file
}

/// Reads `executors.vgo`: the custom executor types stacks may use.
pub(crate) fn parse_executors(cx: &mut Cx<'_>, node: &Node) -> BTreeMap<String, CustomType> {
    let mut out = BTreeMap::new();
    let Some(top) = cx.map(node, "", "executors.vgo") else {
        return out;
    };
    cx.keys(top, &["executors"], "");
    let Some(list) = node.get("executors") else {
        return out;
    };
    let Some(entries) = cx.map(list, "", "`executors`") else {
        return out;
    };
    for (k, v) in entries {
        let context = format!("custom type \"{}\"", k.name);
        if vigo_core::types::lookup(&k.name).is_some() {
            cx.err(
                k.pos,
                &context,
                format!(
                    "`{}` is a built-in type; a custom executor cannot replace it",
                    k.name
                ),
            );
            continue;
        }
        if !valid_name(&k.name) {
            cx.err(
                k.pos,
                &context,
                "a type name may hold only letters, digits, `_`, `-` and `.`",
            );
            continue;
        }
        let Some(fields) = cx.map(v, &context, "a custom type") else {
            continue;
        };
        cx.keys(fields, &["attributes", "required", "description"], &context);
        let list = |cx: &mut Cx<'_>, key: &str| {
            v.get(key)
                .map(|n| cx.names(n, &context, key))
                .map(|l| l.into_iter().map(|n| n.name).collect::<Vec<_>>())
        };
        let mut attributes = list(cx, "attributes");
        let required = list(cx, "required").unwrap_or_default();
        if let Some(attrs) = &mut attributes {
            for r in &required {
                if !attrs.contains(r) {
                    attrs.push(r.clone());
                }
            }
        }
        out.insert(
            k.name.clone(),
            CustomType {
                name: k.name.clone(),
                attributes,
                required,
            },
        );
    }
    out
}
