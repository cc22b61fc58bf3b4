//! `package`: OS packages through the machine's package manager (APT or DNF), several
//! names batched into one package-manager call.
//!
//! ```yaml
//! - name: web-packages
//!   type: package
//!   package: "nginx, curl"       # a comma list or a YAML list; "*" with latest = upgrade all
//!   state: present               # present | latest | absent
//!   version: "1.22.1-9"          # one name only
//!   lock_version: true           # hold at that version (apt-mark hold / dnf versionlock)
//!   allow_downgrade: false
//!   update_cache: true           # apt-get update / dnf makecache before changing anything
//!   purge: false                 # with absent: also remove configuration (apt)
//!   post_cleanup: false          # autoremove afterwards (a failure there is not fatal)
//!   flags: "--no-install-recommends"
//! ```
//!
//! The installed state is read from the package database (`/var/lib/dpkg/status`
//! directly, or `rpm -q`); `latest` asks the manager for its candidate version
//! (`apt-cache policy`, `dnf list --upgrades`). Failures caused by the infrastructure
//! (unreachable mirror, bad signature, full disk) are reported as `blocked`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::command::{self, CommandOutput, CommandSpec};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};

/// The `package` executor.
#[derive(Debug, Default)]
pub struct PackageExecutor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Present,
    Latest,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Apt,
    Dnf,
}

#[derive(Debug, Clone)]
struct PackageSpec {
    names: Vec<String>,
    state: Wanted,
    version: Option<String>,
    lock_version: bool,
    allow_downgrade: bool,
    update_cache: bool,
    purge: bool,
    post_cleanup: bool,
    flags: Vec<String>,
}

/// What the database says about one package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Installed {
    version: Option<String>,
    held: bool,
    /// Removed but its configuration files remain (dpkg `config-files`).
    config_only: bool,
}

impl Executor for PackageExecutor {
    fn type_name(&self) -> &str {
        types::package::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::package::TYPE, decl.name, decl.attributes)?;
        let names = a
            .opt_list("package")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| a.error("package", "is required"))?;
        let state = match a.req_enum("state")?.as_str() {
            "latest" => Wanted::Latest,
            "absent" => Wanted::Absent,
            _ => Wanted::Present,
        };
        let all = names.len() == 1 && names[0] == "*";
        if all && state != Wanted::Latest {
            return Err(a.error(
                "package",
                "\"*\" only works with state latest (upgrade everything)",
            ));
        }
        // Names and the version's form are checked by the definition (`Attrs::new`).
        // `version` names one package: the definition's rule, checked by `Attrs::new`.
        let version = a.opt_str("version")?;
        // `version` only with state present, and `lock_version` needs it: the
        // definition's rules, checked by `Attrs::new`.
        let lock_version = a.flag("lock_version")?;
        let allow_downgrade = a.flag("allow_downgrade")?;
        let update_cache = a.flag("update_cache")?;
        let purge = a.flag("purge")?;
        let post_cleanup = a.flag("post_cleanup")?;
        let flags = a
            .opt_str("flags")?
            .map(|f| f.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        a.finish()?;
        Ok(Box::new(PackageSpec {
            names,
            state,
            version,
            lock_version,
            allow_downgrade,
            update_cache,
            purge,
            post_cleanup,
            flags,
        }))
    }
}

fn backend() -> Result<Backend, ExecError> {
    if Path::new("/usr/bin/apt-get").exists() && Path::new("/var/lib/dpkg/status").exists() {
        Ok(Backend::Apt)
    } else if Path::new("/usr/bin/dnf").exists() {
        Ok(Backend::Dnf)
    } else {
        Err(ExecError::failed(
            "no supported package manager on this machine (apt or dnf)",
        ))
    }
}

/// Parses `/var/lib/dpkg/status` for the given names.
fn dpkg_installed(status: &str, names: &[String]) -> BTreeMap<String, Installed> {
    let mut out: BTreeMap<String, Installed> = names
        .iter()
        .map(|n| (n.clone(), Installed::default()))
        .collect();
    for stanza in status.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(key).map(str::trim))
        };
        let Some(name) = field("Package:") else {
            continue;
        };
        let Some(entry) = out.get_mut(name) else {
            continue;
        };
        let status = field("Status:").unwrap_or_default();
        let words: Vec<&str> = status.split_whitespace().collect();
        let (want, state) = (
            words.first().copied().unwrap_or(""),
            words.last().copied().unwrap_or(""),
        );
        if state == "installed" {
            entry.version = field("Version:").map(str::to_owned);
            entry.held = want == "hold";
        } else if state == "config-files" && entry.version.is_none() {
            entry.config_only = true;
        }
    }
    out
}

fn run(argv: &[&str], timeout: Duration) -> Result<CommandOutput, ExecError> {
    let spec = CommandSpec::new(argv.iter().copied())
        .timeout(timeout)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("APT_LISTCHANGES_FRONTEND", "none")
        .env("LC_ALL", "C");
    Ok(command::run(&spec)?)
}

/// A failed package-manager call: `blocked` when the cause is outside the resource.
fn failure(what: &str, out: &CommandOutput) -> ExecError {
    let err = out.stderr_str();
    let text = format!(
        "{what} failed ({}): {}",
        out.describe_exit(),
        last_lines(&err, 6)
    );
    let infra = [
        "Could not resolve",
        "Temporary failure resolving",
        "Failed to fetch",
        "Unable to fetch",
        "NO_PUBKEY",
        "is not signed",
        "EXPKEYSIG",
        "No space left on device",
        "Could not get lock",
        "Cannot download",
        "Failed to download metadata",
        "Curl error",
    ];
    if infra.iter().any(|p| err.contains(p)) {
        ExecError::Blocked(text)
    } else {
        ExecError::Failed(text)
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

impl PackageSpec {
    fn installed(
        &self,
        backend: Backend,
        timeout: Duration,
    ) -> Result<BTreeMap<String, Installed>, ExecError> {
        match backend {
            Backend::Apt => {
                let status = std::fs::read_to_string("/var/lib/dpkg/status")
                    .map_err(|e| ExecError::failed(format!("read /var/lib/dpkg/status: {e}")))?;
                Ok(dpkg_installed(&status, &self.names))
            }
            Backend::Dnf => {
                let mut argv = vec![
                    "rpm",
                    "-q",
                    "--qf",
                    "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n",
                ];
                argv.extend(self.names.iter().map(String::as_str));
                let out = run(&argv, timeout)?;
                let mut map: BTreeMap<String, Installed> = self
                    .names
                    .iter()
                    .map(|n| (n.clone(), Installed::default()))
                    .collect();
                for line in out.stdout_str().lines() {
                    if let Some((name, ver)) = line.split_once(' ')
                        && let Some(e) = map.get_mut(name)
                    {
                        let ver = ver.strip_prefix("0:").unwrap_or(ver);
                        e.version = Some(ver.to_owned());
                    }
                }
                if self.lock_version {
                    let locks = run(&["dnf", "-q", "versionlock", "list"], timeout)?.stdout_str();
                    for (name, e) in &mut map {
                        e.held = locks.lines().any(|l| l.starts_with(&format!("{name}-")));
                    }
                }
                Ok(map)
            }
        }
    }

    /// Candidate versions for `latest`: name → newer version available.
    fn upgradable(
        &self,
        backend: Backend,
        timeout: Duration,
    ) -> Result<BTreeMap<String, String>, ExecError> {
        let mut out = BTreeMap::new();
        match backend {
            Backend::Apt => {
                let mut argv = vec!["apt-cache", "policy"];
                argv.extend(self.names.iter().map(String::as_str));
                let res = run(&argv, timeout)?;
                if !res.success() {
                    return Err(failure("apt-cache policy", &res));
                }
                let mut current: Option<String> = None;
                let (mut inst, mut cand) = (None::<String>, None::<String>);
                let mut flush =
                    |name: &Option<String>, inst: &Option<String>, cand: &Option<String>| {
                        if let (Some(n), Some(c)) = (name, cand)
                            && c != "(none)"
                            && inst.as_deref() != Some(c.as_str())
                        {
                            out.insert(n.clone(), c.clone());
                        }
                    };
                for line in res.stdout_str().lines() {
                    if !line.starts_with(' ') && line.ends_with(':') {
                        flush(&current, &inst, &cand);
                        current = Some(line.trim_end_matches(':').to_owned());
                        inst = None;
                        cand = None;
                    } else if let Some(v) = line.trim().strip_prefix("Installed:") {
                        inst = Some(v.trim().to_owned());
                    } else if let Some(v) = line.trim().strip_prefix("Candidate:") {
                        cand = Some(v.trim().to_owned());
                    }
                }
                flush(&current, &inst, &cand);
            }
            Backend::Dnf => {
                let mut argv = vec!["dnf", "-q", "list", "--upgrades"];
                argv.extend(self.names.iter().map(String::as_str));
                let res = run(&argv, timeout)?;
                for line in res.stdout_str().lines() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if f.len() >= 2 {
                        let name = f[0].rsplit_once('.').map_or(f[0], |(n, _arch)| n);
                        if self.names.iter().any(|n| n == name) {
                            out.insert(name.to_owned(), f[1].to_owned());
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn upgrade_all_pending(&self, backend: Backend, timeout: Duration) -> Result<usize, ExecError> {
        match backend {
            Backend::Apt => {
                let res = run(&["apt-get", "-s", "-q", "upgrade"], timeout)?;
                if !res.success() {
                    return Err(failure("apt-get -s upgrade", &res));
                }
                Ok(res
                    .stdout_str()
                    .lines()
                    .filter(|l| l.starts_with("Inst "))
                    .count())
            }
            Backend::Dnf => {
                let res = run(&["dnf", "-q", "check-update"], timeout)?;
                match res.code {
                    Some(0) => Ok(0),
                    Some(100) => Ok(res
                        .stdout_str()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .count()),
                    _ => Err(failure("dnf check-update", &res)),
                }
            }
        }
    }
}

impl Prepared for PackageSpec {
    fn check(&self, ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let backend = backend()?;
        if self.names == ["*"] {
            let n = self.upgrade_all_pending(backend, ctx.timeout)?;
            return Ok(if n == 0 {
                Drift::InSync
            } else {
                Drift::change(
                    ChangeKind::Update,
                    vec![Difference::new(
                        "upgrades",
                        format!("{n} pending"),
                        "0 pending",
                    )],
                )
            });
        }
        let installed = self.installed(backend, ctx.timeout)?;
        let mut diffs = Vec::new();
        let mut missing = 0usize;
        match self.state {
            Wanted::Absent => {
                for (name, i) in &installed {
                    if let Some(v) = &i.version {
                        diffs.push(Difference::new(name, v, "absent"));
                    } else if self.purge && i.config_only {
                        diffs.push(Difference::new(name, "config files", "purged"));
                    }
                }
                return Ok(if diffs.is_empty() {
                    Drift::InSync
                } else {
                    Drift::change(ChangeKind::Delete, diffs)
                });
            }
            Wanted::Present => {
                for (name, i) in &installed {
                    match (&i.version, &self.version) {
                        (None, want) => {
                            missing += 1;
                            diffs.push(Difference::new(
                                name,
                                "absent",
                                want.as_deref().unwrap_or("installed"),
                            ));
                        }
                        (Some(have), Some(want)) if have != want => {
                            diffs.push(Difference::new(name, have, want));
                        }
                        _ => {}
                    }
                }
            }
            Wanted::Latest => {
                let newer = self.upgradable(backend, ctx.timeout)?;
                for (name, i) in &installed {
                    match (&i.version, newer.get(name)) {
                        (None, cand) => {
                            missing += 1;
                            diffs.push(Difference::new(
                                name,
                                "absent",
                                cand.map_or("latest", String::as_str),
                            ));
                        }
                        (Some(have), Some(cand)) => diffs.push(Difference::new(name, have, cand)),
                        (Some(_), None) => {}
                    }
                }
            }
        }
        if self.lock_version {
            for (name, i) in &installed {
                if !i.held {
                    diffs.push(Difference::new(&format!("{name} hold"), "no", "yes"));
                }
            }
        }
        let kind = if missing == self.names.len() {
            ChangeKind::Create
        } else {
            ChangeKind::Update
        };
        Ok(if diffs.is_empty() {
            Drift::InSync
        } else {
            Drift::change(kind, diffs)
        })
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { differences, .. } = drift else {
            return Ok(());
        };
        let backend = backend()?;
        let t = ctx.timeout;
        if self.update_cache {
            let res = match backend {
                Backend::Apt => run(&["apt-get", "update", "-qq"], t)?,
                Backend::Dnf => run(&["dnf", "-q", "makecache"], t)?,
            };
            if !res.success() {
                return Err(failure("updating the package cache", &res));
            }
        }
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        // Only the packages that differ, in one call.
        let changing: Vec<&str> = self
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| self.names == ["*"] || differences.iter().any(|d| d.attribute == *n))
            .collect();
        let hold_only: Vec<&str> = self
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| {
                differences
                    .iter()
                    .any(|d| d.attribute == format!("{n} hold"))
            })
            .collect();
        match (backend, self.state) {
            (Backend::Apt, Wanted::Absent) => {
                if self.lock_version || !changing.is_empty() {
                    // A held package cannot be removed: unhold first.
                    let mut argv = vec!["apt-mark", "unhold"];
                    argv.extend(&changing);
                    let _ = run(&argv, t)?;
                }
                let mut argv = vec![
                    "apt-get",
                    "-y",
                    "-q",
                    if self.purge { "purge" } else { "remove" },
                ];
                argv.extend(&flags);
                argv.extend(&changing);
                let res = run(&argv, t)?;
                if !res.success() {
                    return Err(failure("apt-get remove", &res));
                }
            }
            (Backend::Apt, _) if self.names == ["*"] => {
                let mut argv = vec![
                    "apt-get",
                    "-y",
                    "-q",
                    "-o",
                    "Dpkg::Options::=--force-confdef",
                    "-o",
                    "Dpkg::Options::=--force-confold",
                    "upgrade",
                ];
                argv.extend(&flags);
                let res = run(&argv, t)?;
                if !res.success() {
                    return Err(failure("apt-get upgrade", &res));
                }
            }
            (Backend::Apt, state) if !changing.is_empty() => {
                let targets: Vec<String> = changing
                    .iter()
                    .map(|n| match (&self.version, state) {
                        (Some(v), Wanted::Present) => format!("{n}={v}"),
                        _ => (*n).to_owned(),
                    })
                    .collect();
                if self.version.is_some() {
                    // Installing a specific version of a held package needs the hold lifted.
                    let mut argv = vec!["apt-mark", "unhold"];
                    argv.extend(&changing);
                    let _ = run(&argv, t)?;
                }
                let mut argv = vec![
                    "apt-get",
                    "-y",
                    "-q",
                    "-o",
                    "Dpkg::Options::=--force-confdef",
                    "-o",
                    "Dpkg::Options::=--force-confold",
                    "install",
                ];
                if self.allow_downgrade {
                    argv.push("--allow-downgrades");
                }
                argv.extend(&flags);
                argv.extend(targets.iter().map(String::as_str));
                let res = run(&argv, t)?;
                if !res.success() {
                    return Err(failure("apt-get install", &res));
                }
            }
            (Backend::Dnf, Wanted::Absent) => {
                if self.lock_version {
                    let mut argv = vec!["dnf", "-q", "versionlock", "delete"];
                    argv.extend(&changing);
                    let _ = run(&argv, t)?;
                }
                let mut argv = vec!["dnf", "-y", "-q", "remove"];
                argv.extend(&flags);
                argv.extend(&changing);
                let res = run(&argv, t)?;
                if !res.success() {
                    return Err(failure("dnf remove", &res));
                }
            }
            (Backend::Dnf, state) if !changing.is_empty() => {
                let verb = match (state, self.allow_downgrade, self.names == ["*"]) {
                    (_, _, true) => "upgrade",
                    (Wanted::Latest, _, _) => "install",
                    (_, true, _) if self.version.is_some() => "downgrade",
                    _ => "install",
                };
                let targets: Vec<String> = if self.names == ["*"] {
                    Vec::new()
                } else {
                    changing
                        .iter()
                        .map(|n| match &self.version {
                            Some(v) => format!("{n}-{v}"),
                            None => (*n).to_owned(),
                        })
                        .collect()
                };
                let mut argv = vec!["dnf", "-y", "-q", verb];
                if state == Wanted::Latest && self.names != ["*"] {
                    argv.push("--best");
                }
                argv.extend(&flags);
                argv.extend(targets.iter().map(String::as_str));
                let res = run(&argv, t)?;
                if !res.success() {
                    return Err(failure(&format!("dnf {verb}"), &res));
                }
                if state == Wanted::Latest && self.names != ["*"] {
                    let mut argv = vec!["dnf", "-y", "-q", "upgrade"];
                    argv.extend(&changing);
                    let res = run(&argv, t)?;
                    if !res.success() {
                        return Err(failure("dnf upgrade", &res));
                    }
                }
            }
            _ => {}
        }
        if self.lock_version && self.state != Wanted::Absent {
            let to_hold: Vec<&str> = if self.version.is_some() {
                changing.iter().chain(&hold_only).copied().collect()
            } else {
                hold_only.clone()
            };
            if !to_hold.is_empty() {
                let mut argv = match backend {
                    Backend::Apt => vec!["apt-mark", "hold"],
                    Backend::Dnf => vec!["dnf", "-q", "versionlock", "add"],
                };
                argv.extend(&to_hold);
                let res = run(&argv, t)?;
                if !res.success() {
                    return Err(failure("holding the version", &res));
                }
            }
        }
        if self.post_cleanup {
            // Best effort by contract: a failed autoremove does not fail the resource.
            let _ = match backend {
                Backend::Apt => run(&["apt-get", "-y", "-q", "autoremove"], t),
                Backend::Dnf => run(&["dnf", "-y", "-q", "autoremove"], t),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn prepare(attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else { panic!() };
        PackageExecutor.prepare(&ResourceDecl {
            type_name: "package",
            name: "p",
            attributes: &map,
        })
    }

    const STATUS: &str = "Package: tree\nStatus: install ok installed\nVersion: 2.1.0-1\n\nPackage: nginx\nStatus: deinstall ok config-files\nVersion: 1.22.1-9\n\nPackage: curl\nStatus: hold ok installed\nVersion: 7.88.1-10\n";

    #[test]
    fn reads_the_dpkg_database() {
        let names = ["tree", "nginx", "curl", "absent-pkg"].map(String::from);
        let m = dpkg_installed(STATUS, &names);
        assert_eq!(
            m["tree"],
            Installed {
                version: Some("2.1.0-1".into()),
                held: false,
                config_only: false
            }
        );
        assert_eq!(
            m["nginx"],
            Installed {
                version: None,
                held: false,
                config_only: true
            }
        );
        assert!(m["curl"].held);
        assert_eq!(m["absent-pkg"], Installed::default());
    }

    #[test]
    fn host_dpkg_agrees_with_dpkg_query() {
        let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "bash"])
            .output()
            .unwrap();
        let want = String::from_utf8(out.stdout).unwrap();
        let m = dpkg_installed(&status, &["bash".to_owned()]);
        assert_eq!(m["bash"].version.as_deref(), Some(want.as_str()));
    }

    #[test]
    fn infrastructure_failures_are_blocked() {
        let out = CommandOutput {
            code: Some(100),
            signal: None,
            stdout: vec![],
            stderr: b"E: Failed to fetch http://deb.debian.org/... Temporary failure resolving 'deb.debian.org'\n".to_vec(),
            stdout_truncated: false,
            stderr_truncated: false,
            timed_out: false,
            duration: Duration::ZERO,
        };
        assert!(matches!(
            failure("apt-get install", &out),
            ExecError::Blocked(_)
        ));
        let out = CommandOutput {
            stderr: b"E: Unable to locate package nosuch\n".to_vec(),
            ..out
        };
        assert_eq!(
            failure("apt-get install", &out).to_string(),
            "apt-get install failed (exit code 100): E: Unable to locate package nosuch"
        );
    }

    #[test]
    fn bad_attributes() {
        let cases = [
            (
                json!({"state": "present"}),
                "package \"p\": attribute `package`: is required",
            ),
            (
                json!({"package": "a,b", "version": "1", "state": "present"}),
                "package \"p\": attribute `version`: needs exactly one package name",
            ),
            (
                json!({"package": "*", "state": "present"}),
                "package \"p\": attribute `package`: \"*\" only works with state latest (upgrade everything)",
            ),
            (
                json!({"package": "-oops", "state": "present"}),
                "package \"p\": attribute `package`: \"-oops\" is not a package name",
            ),
            (
                json!({"package": "a", "lock_version": true, "state": "present"}),
                "package \"p\": attribute `lock_version`: needs `version` (the version to hold)",
            ),
            (
                json!({"package": "a", "state": "newest"}),
                "package \"p\": attribute `state`: expected one of present, latest, absent, found \"newest\"",
            ),
        ];
        for (attrs, expected) in cases {
            assert_eq!(
                prepare(attrs).err().expect("must fail").to_string(),
                expected
            );
        }
    }

    #[test]
    fn lists_parse_both_ways() {
        prepare(json!({"package": ["nginx", "curl"], "state": "present"})).unwrap();
        prepare(json!({"package": "nginx, curl", "state": "absent", "purge": "yes"})).unwrap();
    }
}
