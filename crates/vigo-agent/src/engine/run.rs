//! Applying a plan: the loop that calls executors in order and enforces the engine's
//! rules (see the module doc of `engine`).

use std::collections::HashSet;
use std::time::Instant;

use vigo_exec::contract::{ChangeKind, Ctx, Drift, ExecError, ResourceDecl};
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;

use super::plan::{Plan, PlannedResource};
use super::result::{Action, ResourceResult, RunReport};
use super::trace::Trace;

/// How to run a plan.
pub struct Options<'a> {
    /// Check only; report what would change.
    pub dry_run: bool,
    /// The executors available.
    pub registry: &'a Registry,
    /// Where files are snapshotted before they change.
    pub snapshots: Option<&'a SnapshotStore>,
    /// Refuses a resource that touches something protected (the agent itself, its
    /// service, its data): `Err(reason)`. Checked before every executor.
    pub guardrail: &'a dyn Fn(&PlannedResource) -> Result<(), String>,
    /// Asked between resources: a manual run wants the machine; stop here.
    pub preempted: &'a dyn Fn() -> bool,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// Applies `plan` and returns every resource's result, tracing each as it finishes.
pub fn run(plan: &Plan, opts: &Options<'_>, trace: &mut Trace) -> RunReport {
    let started = Instant::now();
    let mut results = Vec::with_capacity(plan.resources.len());
    let mut failed: HashSet<&str> = HashSet::new();
    let mut notified: HashSet<&str> = HashSet::new();
    // Dry-run only: resources that would change. A dependent whose check fails may fail
    // only because that change has not happened yet; it is reported as such, not as an error.
    let mut pending: HashSet<&str> = HashSet::new();
    let mut preempted = false;

    // The normal pass; notify targets wait.
    for res in &plan.resources {
        if (opts.preempted)() {
            preempted = true;
            break;
        }
        if res.notify_target {
            continue;
        }
        let result = run_one(res, opts, &failed, &pending);
        if matches!(result.action, Action::Error | Action::Blocked) || is_dependency_skip(&result) {
            failed.insert(&res.id);
        }
        if result.action.is_change() {
            notified.extend(res.notify.iter().map(String::as_str));
        }
        if opts.dry_run && (result.action.is_change() || is_pending_skip(&result)) {
            pending.insert(&res.id);
        }
        trace.resource(&result, opts.dry_run);
        results.push(result);
    }

    // Notify targets, once each, in plan order.
    if !preempted {
        // Dry-run: a target notified by a change that has not happened cannot be blamed
        // for a check that needs it (a restart of a unit the package would install).
        let notifiers = |target: &str| -> Vec<String> {
            plan.resources
                .iter()
                .filter(|r| pending.contains(r.id.as_str()) && r.notify.iter().any(|n| n == target))
                .map(|r| r.id.clone())
                .collect()
        };
        for res in plan.resources.iter().filter(|r| r.notify_target) {
            if (opts.preempted)() {
                preempted = true;
                break;
            }
            let result = if notified.contains(res.id.as_str()) {
                let mut r = run_one(res, opts, &failed, &pending);
                if opts.dry_run
                    && matches!(r.action, Action::Error)
                    && res.error.is_none()
                    && let Some(by) = notifiers(&res.id).first()
                {
                    r.action = Action::Skipped;
                    r.message = format!("{WAITS_FOR}{by} is applied (dry-run): {}", r.message);
                }
                r
            } else {
                outcome(res, Action::None, "not notified".to_owned(), Instant::now())
            };
            trace.resource(&result, opts.dry_run);
            results.push(result);
        }
    }

    RunReport {
        dry_run: opts.dry_run,
        preempted,
        results,
        duration_micros: micros(started),
    }
}

const DEPENDENCY_FAILED: &str = "dependency failed: ";

fn is_dependency_skip(r: &ResourceResult) -> bool {
    r.action == Action::Skipped && r.message.starts_with(DEPENDENCY_FAILED)
}

const WAITS_FOR: &str = "cannot be checked before ";

fn is_pending_skip(r: &ResourceResult) -> bool {
    r.action == Action::Skipped && r.message.starts_with(WAITS_FOR)
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn outcome(
    res: &PlannedResource,
    action: Action,
    message: String,
    started: Instant,
) -> ResourceResult {
    ResourceResult {
        id: res.id.clone(),
        configcrate: res.configcrate.clone(),
        type_name: res.type_name.clone(),
        name: res.name.clone(),
        action,
        duration_micros: micros(started),
        message,
    }
}

fn action_of(kind: ChangeKind) -> Action {
    match kind {
        ChangeKind::Create => Action::Created,
        ChangeKind::Update => Action::Updated,
        ChangeKind::Delete => Action::Deleted,
    }
}

fn error_action(e: &ExecError) -> Action {
    if matches!(e, ExecError::Blocked(_)) {
        Action::Blocked
    } else {
        Action::Error
    }
}

fn run_one(
    res: &PlannedResource,
    opts: &Options<'_>,
    failed: &HashSet<&str>,
    pending: &HashSet<&str>,
) -> ResourceResult {
    let started = Instant::now();
    // Every message about the resource leaves through its taint.
    let secret = &res.sensitive;
    let done = |action, message: String| outcome(res, action, secret.text(&message), started);
    if let Some(dep) = res.depends_on.iter().find(|d| failed.contains(d.as_str())) {
        return done(Action::Skipped, format!("{DEPENDENCY_FAILED}{dep}"));
    }
    if let Some(err) = &res.error {
        return done(Action::Error, err.clone());
    }
    if let Some(why) = &res.skip {
        return done(Action::Skipped, why.clone());
    }
    if let Err(why) = (opts.guardrail)(res) {
        return done(Action::Error, why);
    }
    let Some(executor) = opts.registry.get(&res.type_name) else {
        return done(
            Action::Error,
            format!(
                "unknown resource type `{}` (not built in, and no script of that name in the executors directory)",
                res.type_name
            ),
        );
    };
    let decl = ResourceDecl {
        type_name: &res.type_name,
        name: &res.name,
        attributes: &res.attributes,
    };
    let prepared = match executor.prepare(&decl) {
        Ok(p) => p,
        Err(e) => return done(Action::Error, e.to_string()),
    };
    // A file written from a secret keeps no clear copy in a snapshot.
    let sensitive_store = opts
        .snapshots
        .filter(|_| !secret.is_empty())
        .map(SnapshotStore::sensitive);
    let ctx = Ctx {
        snapshots: sensitive_store.as_ref().or(opts.snapshots),
        timeout: res.timeout,
    };
    let drift = match prepared.check(&ctx) {
        Ok(d) => d,
        Err(e) => {
            // Dry-run: the state this check needs may be what a dependency would create.
            if let Some(dep) = res.depends_on.iter().find(|d| pending.contains(d.as_str()))
                && !matches!(e, ExecError::Blocked(_))
            {
                return done(
                    Action::Skipped,
                    format!(
                        "{WAITS_FOR}{dep} is applied (dry-run): {}",
                        secret.error(&e)
                    ),
                );
            }
            return done(error_action(&e), secret.error(&e));
        }
    };
    match &drift {
        Drift::InSync => done(Action::None, String::new()),
        Drift::Skipped(why) => done(Action::Skipped, why.clone()),
        Drift::Change { kind, .. } => {
            let summary = secret.summary(&drift);
            if opts.dry_run {
                return done(action_of(*kind), summary);
            }
            match prepared.apply(&drift, &ctx) {
                Ok(()) => done(action_of(*kind), summary),
                Err(e) => done(error_action(&e), secret.error(&e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn file(id: &str, path: &std::path::Path, content: &str) -> PlannedResource {
        resource(
            id,
            "file",
            json!({"target_path": path, "content": content, "state": "present"}),
        )
    }

    fn resource(id: &str, type_name: &str, attrs: Value) -> PlannedResource {
        let Value::Object(attributes) = attrs else {
            panic!()
        };
        let (crate_name, name) = id.split_once('/').unwrap();
        PlannedResource {
            id: id.to_owned(),
            configcrate: crate_name.to_owned(),
            type_name: type_name.to_owned(),
            name: name.to_owned(),
            attributes,
            sensitive: Default::default(),
            depends_on: vec![],
            notify: vec![],
            notify_target: false,
            skip: None,
            error: None,
            timeout: Duration::from_secs(30),
        }
    }

    fn apply(plan: &Plan, dry_run: bool) -> RunReport {
        let registry = Registry::builtin();
        let opts = Options {
            dry_run,
            registry: &registry,
            snapshots: None,
            guardrail: &|_| Ok(()),
            preempted: &|| false,
        };
        run(plan, &opts, &mut Trace::quiet())
    }

    fn actions(r: &RunReport) -> Vec<(String, Action)> {
        r.results.iter().map(|x| (x.id.clone(), x.action)).collect()
    }

    #[test]
    fn dry_run_reports_what_the_real_run_then_does_and_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let plan = Plan {
            resources: vec![
                file("c/a", &tmp.path().join("a"), "A"),
                file("c/b", &tmp.path().join("b"), "B"),
            ],
        };
        let dry = apply(&plan, true);
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "dry-run wrote nothing"
        );
        let real = apply(&plan, false);
        assert_eq!(actions(&dry), actions(&real));
        assert_eq!(
            actions(&real),
            vec![
                ("c/a".into(), Action::Created),
                ("c/b".into(), Action::Created)
            ]
        );
        let again = apply(&plan, false);
        assert!(
            again.results.iter().all(|r| r.action == Action::None),
            "idempotent: {:?}",
            actions(&again)
        );
    }

    #[test]
    fn dry_run_does_not_blame_a_dependent_for_state_its_dependency_would_create() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("app.conf");
        let mut line = resource(
            "c/line",
            "file_line",
            json!({"target_path": conf, "line": "debug = false", "state": "present"}),
        );
        line.depends_on = vec!["c/conf".into()];
        let mut after = file("c/after", &tmp.path().join("after"), "x");
        after.depends_on = vec!["c/line".into()];
        let plan = Plan {
            resources: vec![file("c/conf", &conf, "port = 1\n"), line, after],
        };
        let dry = apply(&plan, true);
        assert_eq!(dry.results[0].action, Action::Created);
        assert_eq!(dry.results[1].action, Action::Skipped);
        assert!(
            dry.results[1]
                .message
                .starts_with("cannot be checked before c/conf is applied (dry-run): "),
            "{}",
            dry.results[1].message
        );
        assert_eq!(
            dry.results[2].action,
            Action::Created,
            "a pending dependency is not a failed one"
        );
        assert!(!dry.failed());
        let real = apply(&plan, false);
        assert_eq!(
            actions(&real).into_iter().map(|a| a.1).collect::<Vec<_>>(),
            vec![Action::Created, Action::Updated, Action::Created]
        );
        assert_eq!(
            fs::read_to_string(&conf).unwrap(),
            "port = 1\ndebug = false\n"
        );
    }

    #[test]
    fn dry_run_does_not_blame_a_notify_target_for_its_notifier_pending_change() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("app.conf");
        let mut write = file("c/conf", &conf, "port = 1\n");
        write.notify = vec!["c/fixup".into()];
        let mut fixup = resource(
            "c/fixup",
            "file_line",
            json!({"target_path": conf, "line": "debug = false", "state": "present"}),
        );
        fixup.notify_target = true;
        let plan = Plan {
            resources: vec![write, fixup],
        };
        let dry = apply(&plan, true);
        assert_eq!(
            dry.results[1].action,
            Action::Skipped,
            "{:?}",
            dry.results[1]
        );
        assert!(
            dry.results[1]
                .message
                .starts_with("cannot be checked before c/conf is applied (dry-run): "),
            "{}",
            dry.results[1].message
        );
        let real = apply(&plan, false);
        assert_eq!(real.results[1].action, Action::Updated);
    }

    #[test]
    fn a_failure_skips_its_dependents_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = resource("c/bad", "exec", json!({"command": "exit 1"}));
        let mut child = file("c/child", &tmp.path().join("child"), "x");
        child.depends_on = vec!["c/bad".into()];
        let mut grandchild = file("c/grandchild", &tmp.path().join("gc"), "x");
        grandchild.depends_on = vec!["c/child".into()];
        let independent = file("c/independent", &tmp.path().join("ind"), "x");
        let report = apply(
            &Plan {
                resources: vec![bad, child, grandchild, independent],
            },
            false,
        );
        assert_eq!(
            actions(&report),
            vec![
                ("c/bad".into(), Action::Error),
                ("c/child".into(), Action::Skipped),
                ("c/grandchild".into(), Action::Skipped),
                ("c/independent".into(), Action::Created),
            ]
        );
        assert_eq!(report.results[2].message, "dependency failed: c/child");
        assert!(report.failed());
    }

    #[test]
    fn notify_target_runs_once_only_when_a_notifier_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("restarts");
        let mut a = file("web/conf-a", &tmp.path().join("a"), "1");
        a.notify = vec!["web/restart".into()];
        let mut b = file("web/conf-b", &tmp.path().join("b"), "1");
        b.notify = vec!["web/restart".into()];
        let mut restart = resource(
            "web/restart",
            "exec",
            json!({"command": format!("echo r >> {}", log.display())}),
        );
        restart.notify_target = true;
        let plan = Plan {
            resources: vec![restart, a, b],
        };

        let first = apply(&plan, false);
        assert_eq!(first.results.last().unwrap().action, Action::Updated);
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "r\n",
            "once, although two notifiers changed"
        );

        let second = apply(&plan, false);
        assert_eq!(second.results.last().unwrap().action, Action::None);
        assert_eq!(second.results.last().unwrap().message, "not notified");
        assert_eq!(fs::read_to_string(&log).unwrap(), "r\n");
    }

    #[test]
    fn guardrails_unknown_types_planning_errors_and_skips() {
        let tmp = tempfile::tempdir().unwrap();
        let guarded = file("c/agent", std::path::Path::new("/usr/local/sbin/vigo"), "x");
        let unknown = resource("c/mystery", "teleport", json!({}));
        let mut broken = file("c/broken", &tmp.path().join("x"), "x");
        broken.error = Some("template motd.tmpl: line 3: no such var".into());
        let mut off = file("c/off", &tmp.path().join("y"), "x");
        off.skip = Some("when: os_family(\"redhat\") is false".into());
        let registry = Registry::builtin();
        let guard = |r: &PlannedResource| {
            if r.attributes.get("target_path") == Some(&json!("/usr/local/sbin/vigo")) {
                Err(format!(
                    "configcrate \"{}\" resource \"{}\": targets protected path /usr/local/sbin/vigo",
                    r.configcrate, r.name
                ))
            } else {
                Ok(())
            }
        };
        let opts = Options {
            dry_run: false,
            registry: &registry,
            snapshots: None,
            guardrail: &guard,
            preempted: &|| false,
        };
        let report = run(
            &Plan {
                resources: vec![guarded, unknown, broken, off],
            },
            &opts,
            &mut Trace::quiet(),
        );
        let got: Vec<(Action, &str)> = report
            .results
            .iter()
            .map(|r| (r.action, r.message.as_str()))
            .collect();
        assert_eq!(
            got[0],
            (
                Action::Error,
                "configcrate \"c\" resource \"agent\": targets protected path /usr/local/sbin/vigo"
            )
        );
        assert_eq!(got[1].0, Action::Error);
        assert!(got[1].1.starts_with("unknown resource type `teleport`"));
        assert_eq!(
            got[2],
            (Action::Error, "template motd.tmpl: line 3: no such var")
        );
        assert_eq!(
            got[3],
            (Action::Skipped, "when: os_family(\"redhat\") is false")
        );
    }

    #[test]
    fn preemption_stops_between_resources() {
        let tmp = tempfile::tempdir().unwrap();
        let plan = Plan {
            resources: (0..5)
                .map(|i| file(&format!("c/f{i}"), &tmp.path().join(format!("f{i}")), "x"))
                .collect(),
        };
        let registry = Registry::builtin();
        let calls = Mutex::new(0);
        let preempted = || {
            let mut n = calls.lock().unwrap();
            *n += 1;
            *n > 2
        };
        let opts = Options {
            dry_run: false,
            registry: &registry,
            snapshots: None,
            guardrail: &|_| Ok(()),
            preempted: &preempted,
        };
        let report = run(&plan, &opts, &mut Trace::quiet());
        assert!(report.preempted);
        assert_eq!(report.results.len(), 2, "stopped before the third resource");
    }

    #[test]
    fn trace_lines_name_action_resource_and_timing() {
        let tmp = tempfile::tempdir().unwrap();
        let buf = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let registry = Registry::builtin();
        let opts = Options {
            dry_run: true,
            registry: &registry,
            snapshots: None,
            guardrail: &|_| Ok(()),
            preempted: &|| false,
        };
        let plan = Plan {
            resources: vec![file("c/motd", &tmp.path().join("motd"), "hi")],
        };
        run(
            &plan,
            &opts,
            &mut Trace::to_writer(Box::new(Sink(buf.clone()))),
        );
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("   would create  file[motd]  "), "{text}");
        assert!(text.contains("ms  content absent → sha256:"), "{text}");
    }

    #[test]
    fn a_sensitive_resource_shows_no_value_and_keeps_no_clear_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let path = tmp.path().join("creds");
        fs::write(&path, "password=old-Sekret-1\n").unwrap();
        let mut creds = file("c/creds", &path, "password=new-Sekret-2\n");
        creds.sensitive.mark("content", "password=new-Sekret-2\n");
        creds.sensitive.remember("new-Sekret-2");
        let mut leaky = resource(
            "c/leaky",
            "exec",
            json!({"command": "echo new-Sekret-2 >&2; exit 3"}),
        );
        leaky
            .sensitive
            .mark("command", "echo new-Sekret-2 >&2; exit 3");
        let registry = Registry::builtin();
        let opts = Options {
            dry_run: false,
            registry: &registry,
            snapshots: Some(&store),
            guardrail: &|_| Ok(()),
            preempted: &|| false,
        };
        let report = run(
            &Plan {
                resources: vec![creds, leaky],
            },
            &opts,
            &mut Trace::quiet(),
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "password=new-Sekret-2\n"
        );
        let messages: Vec<(&str, Action)> = report
            .results
            .iter()
            .map(|r| (r.message.as_str(), r.action))
            .collect();
        assert_eq!(
            messages,
            vec![
                ("content [sensitive] → [sensitive]", Action::Updated),
                (
                    "command failed (exit code 3) (output hidden: the resource uses a secret)",
                    Action::Error
                ),
            ]
        );
        let snaps = store.list(Some(&path)).unwrap();
        assert_eq!(snaps.len(), 1);
        assert!(
            !snaps[0].meta.content_kept,
            "no clear copy of the old secret"
        );
    }
}
