//! Applying a plan: the loop that calls executors in order and enforces the engine's
//! rules (see the module doc of `engine`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use vigo_exec::atomic::{self, PendingWrite};
use vigo_exec::contract::{ChangeKind, Ctx, Drift, ExecError, ResourceDecl, Staged};
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;
use vigo_exec::stat_cache::ContentCache;

use crate::state::StateStore;

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
    /// The agent's state store, which keeps the stat cache between runs (see
    /// [`vigo_exec::stat_cache`]); `None` runs without one (every file is read).
    pub state: Option<&'a StateStore>,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// The most file writes committed with one flush.
pub const BATCH_MAX: usize = 256;

/// What the normal pass has learned so far, and the results in plan order.
#[derive(Default)]
struct Progress<'p> {
    results: Vec<ResourceResult>,
    failed: HashSet<&'p str>,
    notified: HashSet<&'p str>,
    /// Dry-run only: resources that would change. A dependent whose check fails may fail
    /// only because that change has not happened yet; it is reported as such, not as an
    /// error.
    pending: HashSet<&'p str>,
}

impl<'p> Progress<'p> {
    /// Records a finished resource of the normal pass and traces it.
    fn finish(
        &mut self,
        res: &'p PlannedResource,
        result: ResourceResult,
        opts: &Options<'_>,
        cache: &ContentCache,
        trace: &mut Trace,
    ) {
        if matches!(result.action, Action::Error | Action::Blocked) || is_dependency_skip(&result) {
            self.failed.insert(&res.id);
        }
        if result.action.is_change() {
            self.notified.extend(res.notify.iter().map(String::as_str));
        }
        if opts.dry_run && (result.action.is_change() || is_pending_skip(&result)) {
            self.pending.insert(&res.id);
        }
        forget_if_touched(res, &result, opts, cache);
        trace.resource(&result, opts.dry_run);
        self.results.push(result);
    }
}

/// The path a resource manages, when it names one.
fn target_path(res: &PlannedResource) -> Option<&Path> {
    res.attributes
        .get("target_path")
        .and_then(|v| v.as_str())
        .map(Path::new)
}

/// Forgets the stat-cache record of the path a resource changed (or tried to).
fn forget_if_touched(
    res: &PlannedResource,
    result: &ResourceResult,
    opts: &Options<'_>,
    cache: &ContentCache,
) {
    let touched = result.action.is_change() || matches!(result.action, Action::Error);
    if !opts.dry_run
        && touched
        && let Some(path) = target_path(res)
    {
        cache.forget(path);
    }
}

/// File writes staged by consecutive independent `file` resources, waiting for one
/// flush (see [`vigo_exec::atomic::commit`]). A resource of the run that finishes without
/// a write while the batch is open waits in it too (`false`), so results and trace lines
/// keep plan order.
#[derive(Default)]
struct Batch<'p> {
    staged: Vec<(&'p PlannedResource, ResourceResult, bool)>,
    writes: Vec<PendingWrite>,
    paths: HashSet<PathBuf>,
}

impl<'p> Batch<'p> {
    /// Whether `res` may run before the batch is committed: it is a `file` (whose check
    /// reads only its own path), depends on nothing in the batch, and its path is
    /// neither in the batch nor a symbolic link (which could point into it).
    fn admits(&self, res: &PlannedResource) -> bool {
        if self.writes.is_empty() {
            return true;
        }
        res.type_name == "file"
            && !res
                .depends_on
                .iter()
                .any(|d| self.staged.iter().any(|(s, _, _)| s.id == *d))
            && target_path(res).is_some_and(|p| {
                !self.paths.contains(p)
                    && !std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
            })
    }

    fn push(&mut self, res: &'p PlannedResource, result: ResourceResult, write: PendingWrite) {
        self.paths.insert(write.path().to_path_buf());
        self.writes.push(write);
        self.staged.push((res, result, true));
    }

    /// Whether writes are waiting (a finished resource must then wait behind them).
    fn is_open(&self) -> bool {
        !self.writes.is_empty()
    }

    /// A resource that finished without a write while the batch is open: it is traced
    /// after the writes staged before it.
    fn queue(&mut self, res: &'p PlannedResource, result: ResourceResult) {
        self.staged.push((res, result, false));
    }

    /// Commits the batch and finishes each of its resources, in plan order: a write
    /// that could not be committed makes its resource's result an error.
    fn flush(
        &mut self,
        progress: &mut Progress<'p>,
        opts: &Options<'_>,
        cache: &ContentCache,
        trace: &mut Trace,
    ) {
        if self.writes.is_empty() {
            for (res, result, _) in self.staged.drain(..) {
                progress.finish(res, result, opts, cache, trace);
            }
            return;
        }
        let started = Instant::now();
        let committed = atomic::commit(std::mem::take(&mut self.writes));
        // Each written resource's time includes its share of the flush.
        let share = micros(started) / committed.len() as u64;
        let mut outcomes = committed.into_iter();
        for (res, mut result, wrote) in self.staged.drain(..) {
            if wrote {
                result.duration_micros += share;
                if let Some(Err(e)) = outcomes.next() {
                    commit_failed(res, &mut result, e);
                }
            }
            progress.finish(res, result, opts, cache, trace);
        }
        self.paths.clear();
    }
}

/// Applies `plan` and returns every resource's result, tracing each as it finishes.
///
/// Independent `file` writes in a row are committed together with one flush (see
/// [`Batch::admits`]): each resource's result is traced once its write is in place,
/// and anything that depends on one of them runs after that.
pub fn run(plan: &Plan, opts: &Options<'_>, trace: &mut Trace) -> RunReport {
    let started = Instant::now();
    let cache = load_cache(plan, opts);
    let mut progress = Progress {
        results: Vec::with_capacity(plan.resources.len()),
        ..Progress::default()
    };
    let mut batch = Batch::default();
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
        if !batch.admits(res) {
            batch.flush(&mut progress, opts, &cache, trace);
        }
        match run_one(res, opts, &progress.failed, &progress.pending, &cache) {
            Finished::Done(result) if batch.is_open() => batch.queue(res, result),
            Finished::Done(result) => progress.finish(res, result, opts, &cache, trace),
            Finished::Staged(result, write) => {
                batch.push(res, result, write);
                if batch.writes.len() >= BATCH_MAX {
                    batch.flush(&mut progress, opts, &cache, trace);
                }
            }
        }
    }
    batch.flush(&mut progress, opts, &cache, trace);
    let Progress {
        mut results,
        failed,
        notified,
        pending,
    } = progress;

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
                let mut r = run_one(res, opts, &failed, &pending, &cache).commit_alone(res);
                if opts.dry_run
                    && matches!(r.action, Action::Error)
                    && res.error.is_none()
                    && let Some(by) = notifiers(&res.id).first()
                {
                    r.action = Action::Skipped;
                    r.message = format!("{WAITS_FOR}{by} is applied (dry-run): {}", r.message);
                }
                forget_if_touched(res, &r, opts, &cache);
                r
            } else {
                outcome(res, Action::None, "not notified".to_owned(), Instant::now())
            };
            trace.resource(&result, opts.dry_run);
            results.push(result);
        }
    }
    save_cache(&cache, opts);

    RunReport {
        dry_run: opts.dry_run,
        preempted,
        results,
        duration_micros: micros(started),
    }
}

/// The stat cache of the plan's files, from the state store (empty without one, or when
/// it cannot be read: it only ever saves reads).
fn load_cache(plan: &Plan, opts: &Options<'_>) -> ContentCache {
    let Some(state) = opts.state else {
        return ContentCache::default();
    };
    let paths = plan
        .resources
        .iter()
        .filter(|r| r.type_name == "file")
        .filter_map(target_path);
    match state.stat_records(paths) {
        Ok(records) => ContentCache::new(records),
        Err(e) => {
            tracing::warn!("the stat cache cannot be read, every file is read instead: {e}");
            ContentCache::default()
        }
    }
}

/// Saves what the run verified and forgot (not in a dry-run, which writes nothing).
fn save_cache(cache: &ContentCache, opts: &Options<'_>) {
    let Some(state) = opts.state.filter(|_| !opts.dry_run) else {
        return;
    };
    tracing::debug!("stat cache: {} files not read again", cache.hits());
    if let Err(e) = state.save_stat_records(&cache.changes()) {
        tracing::warn!("the stat cache cannot be saved, the next run reads every file: {e}");
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

/// How [`run_one`] left a resource.
enum Finished {
    /// Its result is final.
    Done(ResourceResult),
    /// Its change is a staged file write: the result holds once the write is committed.
    Staged(ResourceResult, PendingWrite),
}

impl Finished {
    /// The final result, committing a staged write on its own.
    fn commit_alone(self, res: &PlannedResource) -> ResourceResult {
        match self {
            Finished::Done(result) => result,
            Finished::Staged(mut result, write) => {
                if let Err(e) = write.commit_alone() {
                    commit_failed(res, &mut result, e);
                }
                result
            }
        }
    }
}

/// A staged write of `res` could not be committed: its result becomes that error.
fn commit_failed(res: &PlannedResource, result: &mut ResourceResult, e: atomic::FileError) {
    let e = ExecError::File(e);
    result.action = error_action(&e);
    result.message = res.sensitive.error(&e);
}

fn run_one(
    res: &PlannedResource,
    opts: &Options<'_>,
    failed: &HashSet<&str>,
    pending: &HashSet<&str>,
    cache: &ContentCache,
) -> Finished {
    let started = Instant::now();
    // Every message about the resource leaves through its taint.
    let secret = &res.sensitive;
    let done = |action, message: String| {
        Finished::Done(outcome(res, action, secret.text(&message), started))
    };
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
    let drift = match prepared.check_cached(&ctx, cache) {
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
            match prepared.stage(&drift, &ctx) {
                Ok(Staged::Done) => done(action_of(*kind), summary),
                Ok(Staged::Pending(write)) => Finished::Staged(
                    outcome(res, action_of(*kind), secret.text(&summary), started),
                    write,
                ),
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
            state: None,
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
    fn results_keep_plan_order_when_an_unchanged_file_follows_a_staged_one() {
        let tmp = tempfile::tempdir().unwrap();
        let same = tmp.path().join("same");
        fs::write(&same, "same\n").unwrap();
        fs::set_permissions(&same, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let resources = vec![
            file("c/new-a", &tmp.path().join("a"), "a\n"),
            file("c/same", &same, "same\n"),
            file("c/new-b", &tmp.path().join("b"), "b\n"),
            resource("c/exec", "exec", json!({"command": "true"})),
        ];
        let report = apply(&Plan { resources }, false);
        assert_eq!(
            actions(&report),
            vec![
                ("c/new-a".to_owned(), Action::Created),
                ("c/same".to_owned(), Action::None),
                ("c/new-b".to_owned(), Action::Created),
                ("c/exec".to_owned(), Action::Updated),
            ],
            "results are in plan order, not in the order writes were committed"
        );
    }

    #[test]
    fn staged_writes_are_in_place_before_anything_else_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("copy");
        let mut resources: Vec<PlannedResource> = (0..5)
            .map(|i| {
                file(
                    &format!("c/f{i}"),
                    &tmp.path().join(format!("f{i}")),
                    &format!("{i}\n"),
                )
            })
            .collect();
        // Not a file: runs only once the writes before it are committed.
        resources.push(resource(
            "c/cat",
            "exec",
            json!({"command": format!("cat {0}/f0 {0}/f4 > {1}", tmp.path().display(), copy.display())}),
        ));
        // A file depending on a staged one, and one on a path already staged.
        let mut dependent = file("c/after", &tmp.path().join("after"), "x");
        dependent.depends_on = vec!["c/late".into()];
        resources.push(file("c/late", &tmp.path().join("late"), "late"));
        resources.push(dependent);
        let report = apply(&Plan { resources }, false);
        assert_eq!(fs::read_to_string(&copy).unwrap(), "0\n4\n");
        let got: Vec<(String, Action, String)> = report
            .results
            .iter()
            .map(|r| (r.id.clone(), r.action, r.message.clone()))
            .collect();
        let want: Vec<(String, Action, String)> = (0..5)
            .map(|i| {
                let digest =
                    &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{i}\n")))[..12];
                (
                    format!("c/f{i}"),
                    Action::Created,
                    format!("content absent → sha256:{digest}; mode absent → 0644"),
                )
            })
            .collect();
        assert_eq!(got[..5], want[..5], "each result as if written alone");
        assert_eq!(got[5].0, "c/cat");
        assert_eq!(
            got[6..]
                .iter()
                .map(|g| (g.0.as_str(), g.1))
                .collect::<Vec<_>>(),
            vec![("c/late", Action::Created), ("c/after", Action::Created)]
        );
        let leftovers: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("vigo-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_batch_admits_only_independent_files_elsewhere() {
        let tmp = tempfile::tempdir().unwrap();
        let staged_path = tmp.path().join("staged");
        let staged = file("c/staged", &staged_path, "x");
        let write = atomic::stage_file(&staged_path, b"x", &Default::default(), None).unwrap();
        let mut batch = Batch::default();
        assert!(
            batch.admits(&resource("c/e", "exec", json!({"command": "true"}))),
            "empty"
        );
        batch.push(
            &staged,
            outcome(&staged, Action::Created, String::new(), Instant::now()),
            write,
        );
        let other = file("c/other", &tmp.path().join("other"), "y");
        assert!(batch.admits(&other));
        assert!(
            !batch.admits(&resource("c/e", "exec", json!({"command": "true"}))),
            "not a file"
        );
        assert!(
            !batch.admits(&file("c/same", &staged_path, "z")),
            "same path"
        );
        let mut dependent = file("c/dep", &tmp.path().join("dep"), "y");
        dependent.depends_on = vec!["c/staged".into()];
        assert!(!batch.admits(&dependent), "depends on the batch");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&staged_path, &link).unwrap();
        assert!(
            !batch.admits(&file("c/link", &link, "y")),
            "a link may point into it"
        );
    }

    #[test]
    fn a_change_forgets_the_stat_record_of_its_path() {
        use vigo_exec::stat_cache::{RECORD_LEN, Record};
        let tmp = tempfile::tempdir().unwrap();
        let state = StateStore::open(&tmp.path().join("state")).unwrap();
        let path = tmp.path().join("f");
        let record = Record::decode(&[0; RECORD_LEN]).expect("any bytes of that size");
        state
            .save_stat_records(&[(path.clone(), Some(record))])
            .unwrap();
        let registry = Registry::builtin();
        let opts = Options {
            dry_run: false,
            registry: &registry,
            snapshots: None,
            guardrail: &|_| Ok(()),
            preempted: &|| false,
            state: Some(&state),
        };
        let plan = Plan {
            resources: vec![file("c/f", &path, "x")],
        };
        let report = run(&plan, &opts, &mut Trace::quiet());
        assert_eq!(report.results[0].action, Action::Created);
        assert_eq!(state.stat_records([path.as_path()]).unwrap(), vec![]);
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
            state: None,
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
            state: None,
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
            state: None,
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
            state: None,
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
