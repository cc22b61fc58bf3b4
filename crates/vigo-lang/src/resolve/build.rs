//! Building the bundle of one match block: which crates (roles with their includes and
//! per-OS `case:`, the block's own crates, the environment's additions and removals,
//! usercrates last), their vars by precedence, `foreach` expansion, secret markers, and
//! the templates they use. Also records why each crate and var is there, for `trace`.
//!
//! Vars precedence, most specific wins (whole top-level keys, no deep merge):
//! `environments.vgo` > match-block vars > `common.vgo` (leaf over root) > crate defaults.
//!
//! A role's `case: { FAMILY: [crates] }` cannot be decided on the server (the OS family
//! is a trait), so those crates ship with a crate-level `when: "os_family('FAMILY')"`
//! (joined with the crate's own `when:`).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};
use vigo_core::{Bundle, BundleCrate, BundleResource};

use super::expand;
use super::graph;
use crate::diag::{Diagnostic, Errors, did_you_mean};
use crate::load::in_scope;
use crate::model::{CrateDef, MatchBlock, Named, Origin, Stack, Vars};
use crate::schema;
use crate::secret;

/// Where a var's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarLevel {
    /// The configcrate's `vars:`.
    CrateDefault,
    /// A `common.vgo`.
    Common,
    /// The match block's `vars:`.
    MatchBlock,
    /// The environment's `vars:`.
    Environment,
}

impl VarLevel {
    /// A short word for traces.
    pub fn as_str(self) -> &'static str {
        match self {
            VarLevel::CrateDefault => "configcrate default",
            VarLevel::Common => "common.vgo",
            VarLevel::MatchBlock => "match block",
            VarLevel::Environment => "environment",
        }
    }
}

/// Why a crate is in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateReason {
    /// The bundle name of the crate.
    pub name: String,
    /// How it got there (`role webserver (includes baseline)`, `match block`, …).
    pub via: String,
    /// Its crate-level `when:` in the bundle.
    pub when: String,
}

/// One var of one crate in a bundle, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct VarReason {
    /// The crate.
    pub krate: String,
    /// The var's name.
    pub name: String,
    /// Its value (secret references as written).
    pub value: Value,
    /// Which level set it.
    pub level: VarLevel,
    /// Where.
    pub origin: Origin,
}

/// A built bundle with its explanation.
#[derive(Debug, Clone)]
pub struct Built {
    /// The bundle.
    pub bundle: Bundle,
    /// Why each crate is there, in bundle order.
    pub crates: Vec<CrateReason>,
    /// Every var of every crate, with its origin.
    pub vars: Vec<VarReason>,
}

struct Entry<'s> {
    def: &'s CrateDef,
    via: String,
    /// OS families it is limited to (empty = everywhere).
    families: Vec<String>,
}

fn add<'s>(list: &mut Vec<Entry<'s>>, def: &'s CrateDef, via: String, family: Option<&str>) {
    if let Some(e) = list.iter_mut().find(|e| e.def.name == def.name) {
        match family {
            None => e.families.clear(),
            Some(f) if !e.families.is_empty() && !e.families.iter().any(|x| x == f) => {
                e.families.push(f.to_owned());
            }
            Some(_) => {}
        }
        return;
    }
    list.push(Entry {
        def,
        via,
        families: family.map(|f| vec![f.to_owned()]).unwrap_or_default(),
    });
}

fn layer(out: &mut BTreeMap<String, (Value, VarLevel, Origin)>, vars: &Vars, level: VarLevel) {
    for (k, v) in vars {
        out.insert(k.clone(), (v.value.clone(), level, v.origin.clone()));
    }
}

/// Builds the bundle of `block` (with `env_override` instead of the block's environment
/// when given). Problems go to `errors`; the bundle is meaningful only when none were
/// added.
pub fn build(
    stack: &Stack,
    block: &MatchBlock,
    env_override: Option<&str>,
    meta: &super::BundleMeta,
    errors: &mut Errors,
) -> Built {
    let block_ctx = format!("match block \"{}\"", block.pattern);
    let env_name = env_override
        .map(str::to_owned)
        .or_else(|| block.environment.as_ref().map(|n| n.name.clone()));

    // 1. Crates.
    let mut list: Vec<Entry<'_>> = Vec::new();
    let mut user_names: Vec<&Named> = Vec::new();
    for (dir, common) in &stack.commons {
        if in_scope(dir, &block.dir) {
            user_names.extend(&common.usercrates);
        }
    }
    let crate_of = |n: &Named| stack.crates.get(&n.name);
    for role_ref in &block.roles {
        let Some(role) = stack.roles.get(&role_ref.name) else {
            continue;
        };
        let mut sources = Vec::new();
        for inc in &role.includes {
            if let Some(r) = stack.roles.get(&inc.name) {
                sources.push((r, format!("role {} (includes {})", role.name, r.name)));
            }
        }
        sources.push((role, format!("role {}", role.name)));
        for (r, via) in sources {
            user_names.extend(&r.usercrates);
            for n in &r.configcrates {
                if let Some(def) = crate_of(n) {
                    add(&mut list, def, via.clone(), None);
                }
            }
            for (family, crates) in &r.case {
                for n in crates {
                    if let Some(def) = crate_of(n) {
                        add(
                            &mut list,
                            def,
                            format!("{via}, case {}", family.name),
                            Some(&family.name),
                        );
                    }
                }
            }
        }
    }
    for n in &block.configcrates {
        if let Some(def) = crate_of(n) {
            add(&mut list, def, "match block".into(), None);
        }
    }
    // Environments in scope, root first (a nearer file wins per var).
    let envs: Vec<_> = stack
        .environments
        .iter()
        .filter(|(dir, _)| in_scope(dir, &block.dir))
        .filter_map(|(_, f)| env_name.as_ref().and_then(|e| f.envs.get(e)))
        .collect();
    if let Some(name) = env_override
        && envs.is_empty()
        && stack.environments.keys().any(|d| in_scope(d, &block.dir))
    {
        errors.push(Diagnostic::new(
            &block.origin.file,
            block.origin.pos,
            &block_ctx,
            format!("unknown environment `{name}`"),
        ));
    }
    for env in &envs {
        for n in &env.configcrates {
            if let Some(def) = crate_of(n) {
                add(
                    &mut list,
                    def,
                    format!("environment {}", env_name.as_deref().unwrap_or("")),
                    None,
                );
            }
        }
        for n in &env.exclude_configcrates {
            list.retain(|e| e.def.name != n.name);
        }
    }
    user_names.extend(&block.usercrates);
    let mut seen_users = HashSet::new();
    for n in user_names {
        if let Some(def) = stack.usercrates.get(&n.name)
            && seen_users.insert(n.name.as_str())
        {
            list.push(Entry {
                def,
                via: "usercrates".into(),
                families: Vec::new(),
            });
        }
    }

    // 2. Vars layers above crate defaults.
    let mut upper: BTreeMap<String, (Value, VarLevel, Origin)> = BTreeMap::new();
    for (dir, common) in &stack.commons {
        // BTreeMap order puts "" before "prod" before "prod/web": root first.
        if in_scope(dir, &block.dir) {
            layer(&mut upper, &common.vars, VarLevel::Common);
        }
    }
    layer(&mut upper, &block.vars, VarLevel::MatchBlock);
    for env in &envs {
        layer(&mut upper, &env.vars, VarLevel::Environment);
    }

    // 3. Crates → bundle crates.
    let mut out = Built {
        bundle: Bundle {
            version: meta.version.clone(),
            tree_hash: stack.tree_hash.clone(),
            match_pattern: block.pattern.as_str().to_owned(),
            environment: env_name.clone().unwrap_or_default(),
            roles: block.roles.iter().map(|r| r.name.clone()).collect(),
            observe_only: block.observe_only,
            max_age_secs: meta.max_age_secs,
            issued_at_unix: meta.issued_at_unix,
            ..Bundle::default()
        },
        crates: Vec::new(),
        vars: Vec::new(),
    };
    let mut all_templates = false;
    // For each bundle crate, the definition index of each of its resources.
    let mut def_index: Vec<Vec<usize>> = Vec::new();
    let mut used_templates = Vec::new();
    for e in &list {
        let bundle_name = match &e.def.user {
            Some(u) => format!("user:{u}"),
            None => e.def.name.clone(),
        };
        let mut merged: BTreeMap<String, (Value, VarLevel, Origin)> = BTreeMap::new();
        layer(&mut merged, &e.def.vars, VarLevel::CrateDefault);
        for (k, v) in &upper {
            merged.insert(k.clone(), v.clone());
        }
        let vars: Map<String, Value> = merged
            .iter()
            .map(|(k, (v, _, _))| (k.clone(), v.clone()))
            .collect();
        for (k, (v, level, origin)) in &merged {
            out.vars.push(VarReason {
                krate: bundle_name.clone(),
                name: k.clone(),
                value: v.clone(),
                level: *level,
                origin: origin.clone(),
            });
        }
        let family_when = match e.families.as_slice() {
            [] => String::new(),
            [one] => format!("os_family('{one}')"),
            many => many
                .iter()
                .map(|f| format!("os_family('{f}')"))
                .collect::<Vec<_>>()
                .join(" || "),
        };
        let when = match (family_when.is_empty(), e.def.when.is_empty()) {
            (true, _) => e.def.when.clone(),
            (false, true) => family_when,
            (false, false) => format!("({family_when}) && ({})", e.def.when),
        };
        let expanded = expand_crate(e.def, &vars, errors);
        def_index.push(expanded.iter().map(|(i, _)| *i).collect::<Vec<_>>());
        let resources: Vec<BundleResource> = expanded.into_iter().map(|(_, r)| r).collect();
        for r in &resources {
            if let Some(Value::String(src)) = r.attributes.get("source") {
                if schema::is_templated(src) {
                    all_templates = true;
                } else {
                    used_templates.push(src.clone());
                }
            }
        }
        let mut marked = vars;
        for v in marked.values_mut() {
            secret::markers_in(v);
        }
        let mut depends_on = Vec::new();
        for d in &e.def.depends_on {
            if list
                .iter()
                .any(|x| x.def.user.is_none() && x.def.name == d.name)
            {
                depends_on.push(d.name.clone());
            } else if stack.crates.contains_key(&d.name) {
                errors.push(Diagnostic::new(
                    &e.def.origin.file,
                    d.pos,
                    &format!("configcrate \"{}\"", e.def.name),
                    format!(
                        "depends on configcrate `{}`, which is not applied with it to envoys matching \"{}\" ({})",
                        d.name, block.pattern, block.origin
                    ),
                ));
            }
        }
        out.crates.push(CrateReason {
            name: bundle_name.clone(),
            via: e.via.clone(),
            when: when.clone(),
        });
        out.bundle.configcrates.push(BundleCrate {
            name: bundle_name,
            vars: marked,
            resources,
            depends_on,
            when: secret::to_markers(&when),
            user: e.def.user.clone().unwrap_or_default(),
        });
    }
    for name in used_templates {
        if let Some(t) = stack.templates.get(&name) {
            out.bundle.templates.insert(name, t.clone());
        }
    }
    if all_templates {
        out.bundle.templates = stack.templates.clone();
    }

    // 4. References and cycles over the whole bundle.
    check_graph(&list, &def_index, &out.bundle, errors);
    out
}

/// Expands one crate's resources (`foreach`, templated names) into bundle resources.
fn expand_crate(
    def: &CrateDef,
    vars: &Map<String, Value>,
    errors: &mut Errors,
) -> Vec<(usize, BundleResource)> {
    let context = |name: &str| format!("configcrate \"{}\" resource \"{name}\"", def.name);
    let mut out: Vec<(usize, BundleResource)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (index, r) in def.resources.iter().enumerate() {
        let foreach = r.foreach.as_ref().or(def.foreach.as_ref());
        let items: Vec<Option<&Value>> = match foreach {
            None => vec![None],
            Some(var) => match expand::items(&var.name, vars) {
                Ok(items) => items.iter().map(Some).collect(),
                Err(msg) => {
                    errors.push(
                        Diagnostic::new(&r.origin.file, var.pos, &context(&r.name), msg)
                            .with_hint(did_you_mean(&var.name, vars.keys().map(String::as_str))),
                    );
                    continue;
                }
            },
        };
        if foreach.is_some() && items.len() > 1 && !schema::is_templated(&r.name) {
            errors.push(Diagnostic::new(
                &r.origin.file,
                r.pos_of("name"),
                &context(&r.name),
                "a resource with `foreach` needs a templated name (e.g. `name: \"user-{{ .Item }}\"`) to stay unique",
            ));
            continue;
        }
        for item in items {
            let data = expand::item_data(vars, item);
            let name = match expand::render_name(&r.name, &data) {
                Ok(n) => n,
                Err(msg) => {
                    errors.push(Diagnostic::new(
                        &r.origin.file,
                        r.pos_of("name"),
                        &context(&r.name),
                        format!("name: {msg}"),
                    ));
                    continue;
                }
            };
            let mut attrs = Value::Object(r.attrs.clone());
            let mut when = Value::String(r.when.clone());
            if item.is_some()
                && let Err(msg) = expand::render_items(&mut attrs, &data)
                    .and_then(|()| expand::render_items(&mut when, &data))
            {
                errors.push(Diagnostic::new(
                    &r.origin.file,
                    r.origin.pos,
                    &context(&name),
                    msg,
                ));
                continue;
            }
            // Plain duplicate names were reported at load; here only expanded ones.
            if !seen.insert(name.clone()) && (item.is_some() || schema::is_templated(&r.name)) {
                errors.push(Diagnostic::new(
                    &r.origin.file,
                    r.origin.pos,
                    &context(&name),
                    format!("duplicate resource name `{name}` after foreach expansion"),
                ));
                continue;
            }
            secret::markers_in(&mut attrs);
            let Value::Object(attributes) = attrs else {
                continue;
            };
            let names = |l: &[Named]| l.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
            out.push((
                index,
                BundleResource {
                    type_name: r.type_name.clone(),
                    name,
                    attributes,
                    depends_on: names(&r.depends_on),
                    before: names(&r.before),
                    notify: names(&r.notify),
                    subscribes: names(&r.subscribes),
                    when: secret::to_markers(when.as_str().unwrap_or_default()),
                    timeout_secs: r.timeout_secs,
                    origin: format!("{}:{}", r.origin.file, r.origin.pos.line),
                },
            ));
        }
    }
    out
}

fn check_graph(list: &[Entry<'_>], def_index: &[Vec<usize>], bundle: &Bundle, errors: &mut Errors) {
    let crates: Vec<graph::CrateNode<'_>> = bundle
        .configcrates
        .iter()
        .map(|c| graph::CrateNode {
            name: &c.name,
            depends_on: &c.depends_on,
        })
        .collect();
    let mut nodes = Vec::with_capacity(bundle.resource_count());
    for ((e, c), indices) in list.iter().zip(&bundle.configcrates).zip(def_index) {
        for (r, &i) in c.resources.iter().zip(indices) {
            let def = &e.def.resources[i];
            nodes.push(graph::Node {
                krate: &c.name,
                name: &r.name,
                changed: r.when == "changed",
                origin: &def.origin,
                refs: def.references(),
            });
        }
    }
    graph::check(&crates, &nodes, errors);
}
