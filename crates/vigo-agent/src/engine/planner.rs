//! Bundle → plan: everything decided before any executor runs.
//!
//! For each configcrate, in bundle order: its vars and the fresh traits form the template
//! data (`.Vars`, `.Traits`, `.Envoy`); a crate-level `when:` that is false skips the
//! crate; every string attribute holding `{{` is rendered; `source:` is rendered from the
//! bundle's templates into `content`; secret markers are replaced from the secrets resolved
//! for this run (in memory only); `when:` is evaluated (`"changed"` makes a notify target).
//! References are resolved to ids (`crate/name`): a name in the same crate, `crate/name`,
//! or a crate name (all its resources); `before` and `subscribes` are turned around into
//! `depends_on` and `notify`. Resources are then ordered dependencies-first, keeping the
//! bundle's order where the graph allows. A resource that cannot be planned carries its
//! error into the run instead of stopping the plan.
//!
//! Rendering templates and evaluating `when:` belong to the language; the planner reaches
//! them through [`Evaluator`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value, json};
use vigo_proto::v1::PolicyBundle;

use super::plan::{Plan, PlannedResource};

/// The language's two agent-side operations.
pub trait Evaluator {
    /// Renders a template (Go `text/template` syntax) against `data`.
    fn render(&self, template: &str, data: &Value) -> Result<String, String>;
    /// Evaluates a `when:` expression against `data` (its `.Traits`) and the host.
    fn when(&self, expr: &str, data: &Value) -> Result<bool, String>;
}

/// What planning needs besides the bundle.
pub struct PlanInput<'a> {
    /// Fresh traits (the `traits` JSON document).
    pub traits: &'a Value,
    /// Facts about this envoy for `.Envoy` (hostname, envoy id, environment).
    pub envoy: Value,
    /// Secret values by path, resolved for this run; never stored.
    pub secrets: &'a HashMap<String, String>,
    /// Only this configcrate (`--configcrate`).
    pub only_crate: Option<&'a str>,
    /// The language's evaluator.
    pub evaluator: &'a dyn Evaluator,
    /// Time limit for resources that set none.
    pub default_timeout: Duration,
}

/// The marker the server puts where a `secret:` reference was.
pub const SECRET_PREFIX: &str = "__VIGO_SECRET__";
/// The end of a secret marker.
pub const SECRET_SUFFIX: &str = "__END__";
/// `exec`'s placeholder, which is not a template.
const SECRET_FILE: &str = "{{secret_file}}";
const SECRET_FILE_GUARD: &str = "\u{0}VIGO_SECRET_FILE\u{0}";

/// Replaces every secret marker in `s`; the error names a missing path (never a value).
pub fn resolve_secrets(s: &str, secrets: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(SECRET_PREFIX) {
        out.push_str(&rest[..start]);
        let after = &rest[start + SECRET_PREFIX.len()..];
        let end = after
            .find(SECRET_SUFFIX)
            .ok_or_else(|| "an unterminated secret marker".to_owned())?;
        let path = &after[..end];
        out.push_str(
            secrets
                .get(path)
                .ok_or_else(|| format!("secret `{path}` was not resolved for this run"))?,
        );
        rest = &after[end + SECRET_SUFFIX.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders templates and resolves secrets in every string of `v`.
fn render_value(v: &mut Value, data: &Value, input: &PlanInput<'_>) -> Result<(), String> {
    match v {
        Value::String(s) => {
            let mut text = resolve_secrets(s, input.secrets)?;
            if text.contains("{{") {
                let guarded = text.replace(SECRET_FILE, SECRET_FILE_GUARD);
                text = input
                    .evaluator
                    .render(&guarded, data)?
                    .replace(SECRET_FILE_GUARD, SECRET_FILE);
            }
            *s = text;
        }
        Value::Array(items) => {
            for item in items {
                render_value(item, data, input)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                render_value(item, data, input)?;
            }
        }
        _ => {}
    }
    Ok(())
}

struct Draft {
    res: PlannedResource,
    before: Vec<String>,
    subscribes: Vec<String>,
}

/// Plans `bundle` for this run.
pub fn plan(bundle: &PolicyBundle, input: &PlanInput<'_>) -> Plan {
    let crate_ids: HashMap<&str, Vec<String>> = bundle
        .configcrates
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.resources
                    .iter()
                    .map(|r| format!("{}/{}", c.name, r.name))
                    .collect(),
            )
        })
        .collect();
    let resolve = |crate_name: &str, reference: &str| -> Result<Vec<String>, String> {
        let same = format!("{crate_name}/{reference}");
        if crate_ids
            .get(crate_name)
            .is_some_and(|ids| ids.contains(&same))
        {
            return Ok(vec![same]);
        }
        if let Some((c, _)) = reference.split_once('/')
            && crate_ids
                .get(c)
                .is_some_and(|ids| ids.iter().any(|i| i == reference))
        {
            return Ok(vec![reference.to_owned()]);
        }
        crate_ids
            .get(reference)
            .cloned()
            .ok_or_else(|| format!("unknown reference `{reference}`"))
    };

    let mut drafts: Vec<Draft> = Vec::new();
    for c in &bundle.configcrates {
        let vars: Value = if c.vars_json.is_empty() {
            json!({})
        } else {
            serde_json::from_str(&c.vars_json).unwrap_or_else(|_| json!({}))
        };
        let data = json!({ "Vars": vars, "Traits": input.traits, "Envoy": input.envoy });
        let crate_skip = match c.when.as_str() {
            "" => Ok(None),
            expr => input.evaluator.when(expr, &data).map(|ok| {
                (!ok).then(|| format!("configcrate `{}`: when: {expr} is false", c.name))
            }),
        };
        let crate_deps: Result<Vec<String>, String> = c
            .depends_on
            .iter()
            .map(|d| {
                crate_ids
                    .get(d.as_str())
                    .cloned()
                    .ok_or_else(|| format!("unknown configcrate `{d}` in depends_on"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.concat());
        for r in &c.resources {
            let id = format!("{}/{}", c.name, r.name);
            // Every problem found while planning; the first becomes the resource's error.
            let mut errors: Vec<String> = Vec::new();
            let mut attributes: Map<String, Value> =
                match serde_json::from_str::<Value>(if r.attributes_json.is_empty() {
                    "{}"
                } else {
                    &r.attributes_json
                }) {
                    Ok(Value::Object(m)) => m,
                    _ => {
                        errors.push("attributes are not a JSON object".into());
                        Map::new()
                    }
                };
            let (notify_target, mut skip) = match r.when.as_str() {
                "changed" => (true, None),
                "" => (false, None),
                expr => match input.evaluator.when(expr, &data) {
                    Ok(true) => (false, None),
                    Ok(false) => (false, Some(format!("when: {expr} is false"))),
                    Err(e) => {
                        errors.push(format!("when: {e}"));
                        (false, None)
                    }
                },
            };
            match &crate_skip {
                Ok(Some(why)) => skip = Some(why.clone()),
                Ok(None) => {}
                Err(e) => errors.push(format!("configcrate when: {e}")),
            }
            if skip.is_none() && errors.is_empty() {
                if let Some(Value::String(source)) = attributes.remove("source") {
                    match bundle.templates.get(&source) {
                        Some(tmpl) => match input
                            .evaluator
                            .render(tmpl, &data)
                            .and_then(|t| resolve_secrets(&t, input.secrets))
                        {
                            Ok(text) => {
                                attributes.insert("content".into(), Value::String(text));
                            }
                            Err(e) => errors.push(format!("template {source}: {e}")),
                        },
                        None => errors.push(format!("template `{source}` is not in the bundle")),
                    }
                }
                let mut v = Value::Object(std::mem::take(&mut attributes));
                if let Err(e) = render_value(&mut v, &data, input) {
                    errors.push(e);
                }
                if let Value::Object(m) = v {
                    attributes = m;
                }
            }
            let mut depends_on = Vec::new();
            match &crate_deps {
                Ok(ids) => depends_on.extend(ids.iter().cloned()),
                Err(e) => errors.push(e.clone()),
            }
            let mut refs = |list: &[String], out: &mut Vec<String>| {
                for reference in list {
                    match resolve(&c.name, reference) {
                        Ok(ids) => out.extend(ids),
                        Err(e) => errors.push(e),
                    }
                }
            };
            refs(&r.depends_on, &mut depends_on);
            let mut notify = Vec::new();
            refs(&r.notify, &mut notify);
            let mut before = Vec::new();
            refs(&r.before, &mut before);
            let mut subscribes = Vec::new();
            refs(&r.subscribes, &mut subscribes);
            let timeout = if r.timeout_secs > 0 {
                Duration::from_secs(u64::from(r.timeout_secs))
            } else {
                attributes
                    .get("timeout")
                    .or_else(|| attributes.get("timeout_secs"))
                    .and_then(|v| {
                        vigo_exec::attrs::parse_duration(
                            &v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                        )
                    })
                    .unwrap_or(input.default_timeout)
            };
            drafts.push(Draft {
                res: PlannedResource {
                    id,
                    configcrate: c.name.clone(),
                    type_name: r.r#type.clone(),
                    name: r.name.clone(),
                    attributes,
                    depends_on,
                    notify,
                    notify_target,
                    skip,
                    error: errors.into_iter().next(),
                    timeout,
                },
                before,
                subscribes,
            });
        }
    }
    // `x before y` is `y depends_on x`; `y subscribes x` is `x notify y`.
    let index: HashMap<String, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.res.id.clone(), i))
        .collect();
    let mut extra_deps: Vec<(usize, String)> = Vec::new();
    let mut extra_notify: Vec<(usize, String)> = Vec::new();
    for d in &drafts {
        for target in &d.before {
            if let Some(&t) = index.get(target) {
                extra_deps.push((t, d.res.id.clone()));
            }
        }
        for source in &d.subscribes {
            if let Some(&s) = index.get(source) {
                extra_notify.push((s, d.res.id.clone()));
            }
        }
    }
    for (i, dep) in extra_deps {
        drafts[i].res.depends_on.push(dep);
    }
    for (i, target) in extra_notify {
        drafts[i].res.notify.push(target);
    }
    let mut resources: Vec<PlannedResource> = drafts.into_iter().map(|d| d.res).collect();
    autorequire_parent_dirs(&mut resources);
    if let Some(only) = input.only_crate {
        resources.retain(|r| r.configcrate == only);
        let kept: std::collections::HashSet<String> =
            resources.iter().map(|r| r.id.clone()).collect();
        for r in &mut resources {
            r.depends_on.retain(|d| kept.contains(d));
            r.notify.retain(|n| kept.contains(n));
        }
    }
    Plan {
        resources: order(resources),
    }
}

/// Types whose `target_path` is a path on this machine.
const PATH_TYPES: &[&str] = &[
    "file",
    "directory",
    "symlink",
    "file_line",
    "blockinfile",
    "replace",
    "json_file",
    "ini",
];

/// Puppet's autorequire: a resource on a path depends on the `directory` resources (state
/// `present`) managing any of its ancestor directories, so `/etc/app/app.conf` is written
/// after `/etc/app` exists, whatever order the stack lists them in.
fn autorequire_parent_dirs(resources: &mut [PlannedResource]) {
    let path_of = |r: &PlannedResource| -> Option<String> {
        if !PATH_TYPES.contains(&r.type_name.as_str()) {
            return None;
        }
        let p = r.attributes.get("target_path")?.as_str()?;
        Some(p.trim_end_matches('/').to_owned())
    };
    let dirs: HashMap<String, String> = resources
        .iter()
        .filter(|r| {
            r.type_name == "directory"
                && r.attributes.get("state").and_then(Value::as_str) != Some("absent")
        })
        .filter_map(|r| Some((path_of(r)?, r.id.clone())))
        .collect();
    if dirs.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let Some(path) = path_of(r) else { continue };
        let mut ancestor = std::path::Path::new(&path).parent();
        while let Some(dir) = ancestor {
            if let Some(id) = dir.to_str().and_then(|d| dirs.get(d))
                && *id != r.id
                && !r.depends_on.contains(id)
            {
                r.depends_on.push(id.clone());
            }
            ancestor = dir.parent();
        }
    }
}

/// Dependencies first, otherwise in the given order (Kahn's algorithm, picking the earliest
/// ready resource). Resources on a cycle keep an error naming it, and run after the rest.
fn order(resources: Vec<PlannedResource>) -> Vec<PlannedResource> {
    let n = resources.len();
    let pos: HashMap<&str, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, r) in resources.iter().enumerate() {
        for d in &r.depends_on {
            if let Some(&j) = pos.get(d.as_str())
                && j != i
            {
                indegree[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|i| indegree[*i] == 0).collect();
    let mut out_idx = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        out_idx.push(i);
        for &k in &dependents[i] {
            indegree[k] -= 1;
            if indegree[k] == 0 {
                ready.insert(k);
            }
        }
    }
    let placed: std::collections::HashSet<usize> = out_idx.iter().copied().collect();
    let cyclic: Vec<usize> = (0..n).filter(|i| !placed.contains(i)).collect();
    let cycle_ids: Vec<String> = cyclic.iter().map(|i| resources[*i].id.clone()).collect();
    let mut slots: BTreeMap<usize, PlannedResource> = resources.into_iter().enumerate().collect();
    let mut out: Vec<PlannedResource> = out_idx
        .into_iter()
        .filter_map(|i| slots.remove(&i))
        .collect();
    for i in cyclic {
        if let Some(mut r) = slots.remove(&i) {
            r.error
                .get_or_insert_with(|| format!("dependency cycle among {}", cycle_ids.join(", ")));
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use vigo_proto::v1::{Configcrate, Resource};

    use super::*;

    /// Stands in for the language in these planner tests: `{{ .Vars.NAME }}` and
    /// `{{ .Traits.A.B }}` substitutions, and `when:` literals `true`/`false`.
    struct TinyEvaluator;

    impl Evaluator for TinyEvaluator {
        fn render(&self, template: &str, data: &Value) -> Result<String, String> {
            let mut out = String::new();
            let mut rest = template;
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find("}}").ok_or("unclosed action")? + start;
                let path = rest[start + 2..end].trim().trim_start_matches('.');
                let mut node = data;
                for seg in path.split('.') {
                    node = node
                        .get(seg)
                        .ok_or_else(|| format!("no value at .{path}"))?;
                }
                out.push_str(
                    node.as_str()
                        .map_or_else(|| node.to_string(), str::to_owned)
                        .as_str(),
                );
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
            Ok(out)
        }

        fn when(&self, expr: &str, _data: &Value) -> Result<bool, String> {
            match expr {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(format!("cannot evaluate `{other}`")),
            }
        }
    }

    fn res(name: &str, ty: &str, attrs: &Value) -> Resource {
        Resource {
            r#type: ty.into(),
            name: name.into(),
            attributes_json: attrs.to_string(),
            ..Default::default()
        }
    }

    fn input<'a>(traits: &'a Value, secrets: &'a HashMap<String, String>) -> PlanInput<'a> {
        PlanInput {
            traits,
            envoy: json!({"hostname": "web-01"}),
            secrets,
            only_crate: None,
            evaluator: &TinyEvaluator,
            default_timeout: Duration::from_secs(300),
        }
    }

    fn ids(p: &Plan) -> Vec<&str> {
        p.resources.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn references_turn_into_ids_and_dependencies_come_first() {
        let mut cfg = res(
            "config",
            "file",
            &json!({"target_path": "/etc/app.conf", "state": "present"}),
        );
        cfg.depends_on = vec!["pkg".into()];
        cfg.notify = vec!["restart".into()];
        let mut restart = res(
            "restart",
            "service",
            &json!({"service": "app", "state": "restarted"}),
        );
        restart.when = "changed".into();
        let pkg = res(
            "pkg",
            "package",
            &json!({"package": "app", "state": "present"}),
        );
        let mut early = res("early", "exec", &json!({"command": "true"}));
        early.before = vec!["pkg".into()];
        let mut watcher = res("watcher", "exec", &json!({"command": "true"}));
        watcher.subscribes = vec!["config".into()];
        watcher.when = "changed".into();
        let base = Configcrate {
            name: "base".into(),
            resources: vec![res("motd", "file", &json!({}))],
            ..Default::default()
        };
        let app = Configcrate {
            name: "app".into(),
            depends_on: vec!["base".into()],
            resources: vec![cfg, restart, pkg, early, watcher],
            ..Default::default()
        };
        let bundle = PolicyBundle {
            configcrates: vec![base, app],
            ..Default::default()
        };
        let (traits, secrets) = (json!({}), HashMap::new());
        let p = plan(&bundle, &input(&traits, &secrets));
        assert_eq!(
            ids(&p),
            vec![
                "base/motd",
                "app/restart",
                "app/early",
                "app/pkg",
                "app/config",
                "app/watcher"
            ]
        );
        let get = |id: &str| p.resources.iter().find(|r| r.id == id).unwrap();
        assert_eq!(get("app/config").depends_on, vec!["base/motd", "app/pkg"]);
        assert_eq!(
            get("app/config").notify,
            vec!["app/restart", "app/watcher"],
            "subscribes turned into notify"
        );
        assert!(
            get("app/pkg").depends_on.contains(&"app/early".to_owned()),
            "before turned into depends_on"
        );
        assert!(get("app/restart").notify_target && get("app/watcher").notify_target);
        assert!(
            p.resources.iter().all(|r| r.error.is_none()),
            "{:?}",
            p.resources.iter().map(|r| &r.error).collect::<Vec<_>>()
        );
    }

    #[test]
    fn paths_autorequire_the_directories_managing_their_ancestors() {
        let conf = res(
            "conf",
            "file",
            &json!({"target_path": "/etc/app/conf.d/main.conf", "state": "present"}),
        );
        let confd = res(
            "confd",
            "directory",
            &json!({"target_path": "/etc/app/conf.d/", "state": "present"}),
        );
        let top = res(
            "top",
            "directory",
            &json!({"target_path": "/etc/app", "state": "present"}),
        );
        let gone = res(
            "gone",
            "directory",
            &json!({"target_path": "/etc", "state": "absent"}),
        );
        let other = res(
            "other",
            "file",
            &json!({"target_path": "/etc/application", "state": "present"}),
        );
        let bundle = PolicyBundle {
            configcrates: vec![Configcrate {
                name: "c".into(),
                resources: vec![conf, confd, other, top, gone],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (traits, secrets) = (json!({}), HashMap::new());
        let p = plan(&bundle, &input(&traits, &secrets));
        assert_eq!(
            ids(&p),
            vec!["c/other", "c/top", "c/confd", "c/conf", "c/gone"]
        );
        let get = |id: &str| p.resources.iter().find(|r| r.id == id).unwrap();
        assert_eq!(get("c/conf").depends_on, vec!["c/confd", "c/top"]);
        assert_eq!(get("c/confd").depends_on, vec!["c/top"]);
        assert!(
            get("c/other").depends_on.is_empty(),
            "/etc/application is not under /etc/app, and absent dirs are not required"
        );
    }

    #[test]
    fn templates_sources_secrets_and_when() {
        let file = res(
            "motd",
            "file",
            &json!({"target_path": "/etc/motd", "source": "motd.tmpl", "state": "present"}),
        );
        let exec = res(
            "db",
            "exec",
            &json!({"command": "psql -f {{secret_file}} -h {{ .Vars.db_host }}", "secret_file": "__VIGO_SECRET__db/pw__END__"}),
        );
        let mut off = res("off", "file", &json!({}));
        off.when = "false".into();
        let mut broken = res("broken", "file", &json!({"content": "{{ .Vars.missing }}"}));
        broken.timeout_secs = 7;
        let c = Configcrate {
            name: "c".into(),
            vars_json: json!({"db_host": "db.internal", "owner": "ops"}).to_string(),
            resources: vec![
                file,
                exec,
                off,
                broken,
                res(
                    "nosecret",
                    "file",
                    &json!({"content": "__VIGO_SECRET__other__END__"}),
                ),
            ],
            ..Default::default()
        };
        let bundle = PolicyBundle {
            configcrates: vec![c],
            templates: [(
                "motd.tmpl".to_owned(),
                "Host {{ .Envoy.hostname }} ({{ .Traits.os.family }}), ask {{ .Vars.owner }}\n"
                    .to_owned(),
            )]
            .into(),
            ..Default::default()
        };
        let traits = json!({"os": {"family": "debian"}});
        let secrets: HashMap<String, String> = [("db/pw".to_owned(), "hunter2".to_owned())].into();
        let p = plan(&bundle, &input(&traits, &secrets));
        let get = |id: &str| p.resources.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            get("c/motd").attributes["content"],
            "Host web-01 (debian), ask ops\n"
        );
        assert!(!get("c/motd").attributes.contains_key("source"));
        assert_eq!(
            get("c/db").attributes["command"],
            "psql -f {{secret_file}} -h db.internal",
            "placeholder kept"
        );
        assert_eq!(get("c/db").attributes["secret_file"], "hunter2");
        assert_eq!(get("c/off").skip.as_deref(), Some("when: false is false"));
        assert_eq!(
            get("c/broken").error.as_deref(),
            Some("no value at .Vars.missing")
        );
        assert_eq!(get("c/broken").timeout, Duration::from_secs(7));
        assert_eq!(
            get("c/nosecret").error.as_deref(),
            Some("secret `other` was not resolved for this run")
        );
    }

    #[test]
    fn crate_when_unknown_references_cycles_and_the_crate_filter() {
        let mut a = res("a", "exec", &json!({"command": "true"}));
        a.depends_on = vec!["b".into()];
        let mut b = res("b", "exec", &json!({"command": "true"}));
        b.depends_on = vec!["a".into()];
        let mut lost = res("lost", "exec", &json!({"command": "true"}));
        lost.notify = vec!["nowhere".into()];
        let loop_crate = Configcrate {
            name: "loop".into(),
            resources: vec![a, b, lost],
            ..Default::default()
        };
        let off = Configcrate {
            name: "off".into(),
            when: "false".into(),
            resources: vec![res("x", "file", &json!({}))],
            ..Default::default()
        };
        let bundle = PolicyBundle {
            configcrates: vec![loop_crate, off],
            ..Default::default()
        };
        let (traits, secrets) = (json!({}), HashMap::new());
        let p = plan(&bundle, &input(&traits, &secrets));
        let get = |id: &str| p.resources.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            get("loop/a").error.as_deref(),
            Some("dependency cycle among loop/a, loop/b")
        );
        assert_eq!(
            get("loop/lost").error.as_deref(),
            Some("unknown reference `nowhere`")
        );
        assert_eq!(
            get("off/x").skip.as_deref(),
            Some("configcrate `off`: when: false is false")
        );
        let mut only = input(&traits, &secrets);
        only.only_crate = Some("off");
        assert_eq!(ids(&plan(&bundle, &only)), vec!["off/x"]);
    }

    #[test]
    fn secret_markers() {
        let s: HashMap<String, String> = [
            ("a".to_owned(), "1".to_owned()),
            ("b/c".to_owned(), "2".to_owned()),
        ]
        .into();
        assert_eq!(
            resolve_secrets("x=__VIGO_SECRET__a__END__,y=__VIGO_SECRET__b/c__END__", &s).unwrap(),
            "x=1,y=2"
        );
        assert_eq!(resolve_secrets("plain", &s).unwrap(), "plain");
        assert!(
            resolve_secrets("__VIGO_SECRET__a", &s)
                .unwrap_err()
                .contains("unterminated")
        );
    }
}
