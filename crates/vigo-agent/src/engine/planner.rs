//! Bundle → plan: everything decided before any executor runs.
//!
//! For each configcrate, in bundle order: its vars and the fresh traits form the template
//! data (`.Vars`, `.Traits`, `.Envoy`); a crate-level `when:` that is false skips the
//! crate; every string attribute is rendered exactly once — the template (if it holds
//! `{{`), then the secret markers of its own text — and `source:` is rendered from the
//! bundle's templates into `content` (also once: template output is never a template).
//! Secrets are resolved in memory only and are data, never template text; an attribute
//! that derives from one is marked in the resource's [`Sensitive`] so that nothing the
//! engine reports shows it. `when:` is evaluated (`"changed"` makes a notify target).
//! References are resolved to ids (`crate/name`): a name in the same crate, `crate/name`,
//! or a crate name (all its resources); `before` and `subscribes` are turned around into
//! `depends_on` and `notify`. Resources are then ordered dependencies-first, keeping the
//! bundle's order where the graph allows. A resource that cannot be planned carries its
//! error into the run instead of stopping the plan.
//!
//! Rendering templates and evaluating `when:` belong to the language; the planner reaches
//! them through [`Evaluator`].

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Map, Value, json};
use vigo_core::secret;
use vigo_lang::template::Rendered;
use vigo_proto::v1::PolicyBundle;
use vigo_traits::Traits;

use super::plan::{Plan, PlannedResource};
use super::redact::Sensitive;

/// The language's two agent-side operations.
pub trait Evaluator {
    /// Renders an attribute string or a `source:` template (Go `text/template` syntax)
    /// against `data`: secret markers in `data` are replaced by `secret(path)` as they are
    /// read, and the result says whether any output derives from one. A secret is data:
    /// it is never parsed as template text.
    fn render(
        &self,
        name: &str,
        template: &str,
        data: &Value,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Rendered, String>;
    /// Evaluates a `when:` expression against the typed traits and the host; secret
    /// markers in its arguments are replaced by `secret(path)` after parsing.
    fn when(
        &self,
        expr: &str,
        traits: &Traits,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool, String>;
}

/// What planning needs besides the bundle.
pub struct PlanInput<'a> {
    /// Fresh traits, typed (templates see them as `.Traits`).
    pub traits: &'a Traits,
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

impl PlanInput<'_> {
    fn secret(&self, path: &str) -> Option<String> {
        self.secrets.get(path).cloned()
    }

    /// Renders one string exactly once: the template first (secrets in its data are read
    /// as values), then the markers written in the template text itself. Secret values
    /// are never scanned again (the agent refuses a secret that holds a marker).
    fn render_str(&self, name: &str, text: &str, data: &Value) -> Result<Rendered, String> {
        let lookup = |p: &str| self.secret(p);
        let rendered = if text.contains("{{") {
            self.evaluator.render(name, text, data, &lookup)?
        } else {
            Rendered {
                text: text.to_owned(),
                sensitive: false,
            }
        };
        let out = secret::substitute(&rendered.text, &lookup).map_err(|e| e.to_string())?;
        Ok(Rendered {
            text: out.text,
            sensitive: rendered.sensitive || out.sensitive,
        })
    }
}

/// Renders every string of `v` in place; true when any of them derives from a secret.
fn render_value(
    v: &mut Value,
    name: &str,
    data: &Value,
    input: &PlanInput<'_>,
) -> Result<bool, String> {
    match v {
        // Plain text (no template action, no secret marker) renders to itself: keep it.
        Value::String(s) if !s.contains("{{") && !secret::has_marker(s) => Ok(false),
        Value::String(s) => {
            let r = input.render_str(name, s, data)?;
            *s = r.text;
            Ok(r.sensitive)
        }
        Value::Array(items) => items.iter_mut().try_fold(false, |acc, item| {
            Ok(render_value(item, name, data, input)? || acc)
        }),
        Value::Object(map) => map.values_mut().try_fold(false, |acc, item| {
            Ok(render_value(item, name, data, input)? || acc)
        }),
        _ => Ok(false),
    }
}

/// The plain text of an attribute value, for redaction.
fn value_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
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

    // Templates read traits through their data model (JSON); `when:` reads them typed.
    let traits_data = input.traits.to_json();
    let mut drafts: Vec<Draft> = Vec::new();
    for c in &bundle.configcrates {
        // A crate whose vars do not parse fails each of its resources, saying why.
        let (vars, vars_error) = if c.vars_json.is_empty() {
            (json!({}), None)
        } else {
            match serde_json::from_str::<Value>(&c.vars_json) {
                Ok(v @ Value::Object(_)) => (v, None),
                Ok(_) => (
                    json!({}),
                    Some("the crate's vars are not a JSON object".to_owned()),
                ),
                Err(e) => (
                    json!({}),
                    Some(format!("the crate's vars are not valid JSON: {e}")),
                ),
            }
        };
        // The raw secrets this crate can read: redacted from its resources' messages.
        let mut crate_secrets = BTreeSet::new();
        secret::collect_paths(&c.vars_json, &mut crate_secrets);
        let data = json!({ "Vars": vars, "Traits": traits_data, "Envoy": input.envoy });
        let lookup = |p: &str| input.secret(p);
        let crate_skip = match c.when.as_str() {
            "" => Ok(None),
            expr => input.evaluator.when(expr, input.traits, &lookup).map(|ok| {
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
            let mut errors: Vec<String> = vars_error.iter().cloned().collect();
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
                expr => match input.evaluator.when(expr, input.traits, &lookup) {
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
            let mut sensitive = Sensitive::default();
            if attributes.get("sensitive") == Some(&Value::Bool(true)) {
                sensitive.mark_all();
            }
            if skip.is_none() && errors.is_empty() {
                // `source:` renders into `content`, once: its output is never a template.
                let source = match attributes.remove("source") {
                    Some(Value::String(source)) => Some(source),
                    Some(other) => {
                        errors.push(format!(
                            "attribute `source`: expected a template name, found {other}"
                        ));
                        None
                    }
                    None => None,
                };
                let mut paths = crate_secrets.clone();
                secret::collect_paths(&r.attributes_json, &mut paths);
                for (key, value) in attributes.iter_mut() {
                    match render_value(value, key, &data, input) {
                        Ok(true) => sensitive.mark(key, &value_text(value)),
                        Ok(false) => {}
                        Err(e) => errors.push(format!("attribute `{key}`: {e}")),
                    }
                }
                if let Some(source) = source {
                    match bundle.templates.get(&source) {
                        Some(tmpl) => {
                            secret::collect_paths(tmpl, &mut paths);
                            match input.render_str(&source, tmpl, &data) {
                                Ok(r) => {
                                    if r.sensitive {
                                        sensitive.mark("content", &r.text);
                                    }
                                    attributes.insert("content".into(), Value::String(r.text));
                                }
                                Err(e) => errors.push(format!("template {source}: {e}")),
                            }
                        }
                        None => errors.push(format!("template `{source}` is not in the bundle")),
                    }
                }
                for path in &paths {
                    if let Some(v) = input.secrets.get(path) {
                        sensitive.remember(v);
                    }
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
                match attributes
                    .get("timeout")
                    .or_else(|| attributes.get("timeout_secs"))
                {
                    None => input.default_timeout,
                    Some(v) => {
                        let text = value_text(v);
                        vigo_core::duration::parse(&text).unwrap_or_else(|e| {
                            errors.push(format!("attribute `timeout`: {e}"));
                            input.default_timeout
                        })
                    }
                }
            };
            drafts.push(Draft {
                res: PlannedResource {
                    id,
                    configcrate: c.name.clone(),
                    type_name: r.r#type.clone(),
                    name: r.name.clone(),
                    attributes,
                    sensitive,
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
    fn path_of(r: &PlannedResource) -> Option<&str> {
        if !PATH_TYPES.contains(&r.type_name.as_str()) {
            return None;
        }
        let p = r.attributes.get("target_path")?.as_str()?;
        Some(p.trim_end_matches('/'))
    }
    let dirs: HashMap<String, String> = resources
        .iter()
        .filter(|r| {
            r.type_name == "directory"
                && r.attributes.get("state").and_then(Value::as_str) != Some("absent")
        })
        .filter_map(|r| Some((path_of(r)?.to_owned(), r.id.clone())))
        .collect();
    if dirs.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let Some(path) = path_of(r) else { continue };
        let mut found = Vec::new();
        let mut ancestor = std::path::Path::new(path).parent();
        while let Some(dir) = ancestor {
            if let Some(id) = dir.to_str().and_then(|d| dirs.get(d))
                && *id != r.id
                && !r.depends_on.contains(id)
                && !found.contains(&id)
            {
                found.push(id);
            }
            ancestor = dir.parent();
        }
        r.depends_on.extend(found.into_iter().cloned());
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
    let mut slots: Vec<Option<PlannedResource>> = resources.into_iter().map(Some).collect();
    let mut out: Vec<PlannedResource> = out_idx
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect();
    for i in cyclic {
        if let Some(mut r) = slots[i].take() {
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
    use crate::engine::{LangEvaluator, SystemProbe};

    const OFF: &str = "file_exists('/no/such/file')";

    fn res(name: &str, ty: &str, attrs: &Value) -> Resource {
        Resource {
            r#type: ty.into(),
            name: name.into(),
            attributes_json: attrs.to_string(),
            ..Default::default()
        }
    }

    fn input<'a>(traits: &'a Traits, secrets: &'a HashMap<String, String>) -> PlanInput<'a> {
        PlanInput {
            traits,
            envoy: json!({"hostname": "web-01"}),
            secrets,
            only_crate: None,
            evaluator: &LangEvaluator {
                probe: &SystemProbe,
            },
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
        let (traits, secrets) = (Traits::default(), HashMap::new());
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
        let (traits, secrets) = (Traits::default(), HashMap::new());
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
        off.when = OFF.into();
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
        let traits = Traits {
            os: Some(vigo_traits::collectors::os::Os {
                family: "debian".into(),
                ..Default::default()
            }),
            ..Traits::default()
        };
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
        assert_eq!(
            get("c/off").skip.as_deref(),
            Some("when: file_exists('/no/such/file') is false")
        );
        let broken_error = get("c/broken").error.clone().unwrap();
        assert!(
            broken_error.starts_with("attribute `content`: ")
                && broken_error.contains("map has no entry for key \"missing\""),
            "{broken_error}"
        );
        assert_eq!(get("c/broken").timeout, Duration::from_secs(7));
        assert_eq!(
            get("c/nosecret").error.as_deref(),
            Some("attribute `content`: secret `other` was not resolved for this run")
        );
        assert!(get("c/db").sensitive.covers("secret_file"));
        assert!(!get("c/db").sensitive.covers("command"));
        assert!(get("c/motd").sensitive.is_empty());
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
            when: OFF.into(),
            resources: vec![res("x", "file", &json!({}))],
            ..Default::default()
        };
        let bundle = PolicyBundle {
            configcrates: vec![loop_crate, off],
            ..Default::default()
        };
        let (traits, secrets) = (Traits::default(), HashMap::new());
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
            Some("configcrate `off`: when: file_exists('/no/such/file') is false")
        );
        let mut only = input(&traits, &secrets);
        only.only_crate = Some("off");
        assert_eq!(ids(&plan(&bundle, &only)), vec!["off/x"]);
    }

    fn one(
        attrs: &Value,
        vars: &Value,
        templates: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> PlannedResource {
        let bundle = PolicyBundle {
            configcrates: vec![Configcrate {
                name: "c".into(),
                vars_json: vars.to_string(),
                resources: vec![res("r", "file", attrs)],
                ..Default::default()
            }],
            templates: templates
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        };
        let secrets: HashMap<String, String> = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let traits = Traits::default();
        plan(&bundle, &input(&traits, &secrets)).resources.remove(0)
    }

    #[test]
    fn a_secret_is_data_never_template_code() {
        let evil = "p{{ .Vars.x }}w{{";
        // Written in the attribute itself, and read by a template from the vars.
        let r = one(
            &json!({"content": "a=__VIGO_SECRET__s__END__ b={{ .Vars.pw }}"}),
            &json!({"pw": "__VIGO_SECRET__s__END__", "x": "X"}),
            &[],
            &[("s", evil)],
        );
        assert_eq!(r.error, None);
        assert_eq!(r.attributes["content"], format!("a={evil} b={evil}"));
        assert!(r.sensitive.covers("content"));
    }

    #[test]
    fn a_transformed_secret_is_sensitive() {
        let r = one(
            &json!({"content": "url=https://u:{{ .Vars.pw | urlquery }}@db/"}),
            &json!({"pw": "__VIGO_SECRET__db__END__"}),
            &[],
            &[("db", "a b&c")],
        );
        assert_eq!(r.attributes["content"], "url=https://u:a+b%26c@db/");
        assert!(r.sensitive.covers("content"));
        assert_eq!(
            r.sensitive
                .text("failed: url=https://u:a+b%26c@db/ (raw a b&c)"),
            "failed: [sensitive] (raw [sensitive])"
        );
    }

    #[test]
    fn a_source_template_is_rendered_exactly_once() {
        // A Helm/Prometheus-style file legitimately holds `{{`: the template's output.
        let r = one(
            &json!({"target_path": "/etc/alerts.yml", "source": "alerts.tmpl"}),
            &json!({"job": "node"}),
            &[(
                "alerts.tmpl",
                "job: {{ .Vars.job }}\nsummary: {{ `{{ $labels.instance }}` }}\n",
            )],
            &[],
        );
        assert_eq!(r.error, None);
        assert_eq!(
            r.attributes["content"],
            "job: node\nsummary: {{ $labels.instance }}\n"
        );
        assert!(r.sensitive.is_empty());
    }

    #[test]
    fn bad_vars_json_and_bad_timeouts_are_errors_not_defaults() {
        let bundle = PolicyBundle {
            configcrates: vec![Configcrate {
                name: "c".into(),
                vars_json: "{not json".into(),
                resources: vec![res("r", "file", &json!({}))],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (traits, secrets) = (Traits::default(), HashMap::new());
        let p = plan(&bundle, &input(&traits, &secrets));
        assert!(
            p.resources[0]
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("the crate's vars are not valid JSON")),
            "{:?}",
            p.resources[0].error
        );
        let r = one(&json!({"timeout": "soon"}), &json!({}), &[], &[]);
        assert_eq!(
            r.error.as_deref(),
            Some(
                "attribute `timeout`: expected a duration like \"30s\", \"5m\", \"24h\" or \"1h30m\" (units ms, s, m, h, d; a bare number is seconds), found \"soon\""
            )
        );
    }

    #[test]
    fn a_secret_in_a_condition_is_an_argument_value() {
        let tmp = tempfile::tempdir().unwrap();
        let flag = tmp.path().join("flag");
        std::fs::write(&flag, "").unwrap();
        let bundle = |when: &str| PolicyBundle {
            configcrates: vec![Configcrate {
                name: "c".into(),
                resources: vec![Resource {
                    when: when.into(),
                    ..res("r", "file", &json!({}))
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let traits = Traits::default();
        let secrets: HashMap<String, String> =
            [("p".to_owned(), flag.display().to_string())].into();
        let p = plan(
            &bundle("file_exists('__VIGO_SECRET__p__END__')"),
            &input(&traits, &secrets),
        );
        assert_eq!(
            (
                p.resources[0].skip.as_deref(),
                p.resources[0].error.as_deref()
            ),
            (None, None)
        );
        let none = HashMap::new();
        let p = plan(
            &bundle("file_exists('__VIGO_SECRET__p__END__')"),
            &input(&traits, &none),
        );
        assert_eq!(
            p.resources[0].error.as_deref(),
            Some("when: column 0: secret `p` was not resolved for this run")
        );
    }

    #[test]
    fn sensitive_true_marks_the_whole_resource() {
        let r = one(
            &json!({"content": "plain", "sensitive": true}),
            &json!({}),
            &[],
            &[],
        );
        assert!(r.sensitive.covers("content") && r.sensitive.covers("mode"));
    }
}
