//! `exec`: run a command, guarded so that it runs only when needed.
//!
//! ```yaml
//! - name: build-index
//!   type: exec
//!   command: "/usr/local/bin/reindex --all"
//!   creates: /var/lib/app/index.db      # in sync once this path exists
//!   unless: "test -f /var/lib/app/.done" # in sync when this succeeds
//!   onlyif: "systemctl is-active -q postgresql"  # precondition: skipped when it fails
//!   cwd: /var/lib/app
//!   user: app
//!   environment: "LANG=C.UTF-8,MODE=full" # or a list, or a map
//!   returns: "0,2"                        # acceptable exit codes
//!   timeout: 30m
//!   nice: 10
//! ```
//!
//! Without a guard the command runs on every convergence and reports `updated`.
//! `creates` and `unless` describe a state: when it holds, the resource is in sync
//! (`none`). `onlyif` is a precondition: when it fails the resource is `skipped`. Guards
//! run in `check` (they only read), so a dry-run reports exactly what the real run does.
//! `stdin` feeds the command; `secret_file` writes a resolved secret to a private file on
//! a tmpfs (`/dev/shm` or `/run`) whose path replaces `{{secret_file}}` in `command`, and
//! removes it afterwards. `background: true` starts the command and returns at once
//! (niceness 19 unless `nice` says otherwise); its output is not captured.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::command::{self, CommandSpec, Credentials};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};

/// The `exec` executor.
#[derive(Debug, Default)]
pub struct ExecExecutor;

/// The placeholder `secret_file` replaces in `command` (defined with the secret markers).
pub use vigo_core::secret::SECRET_FILE_PLACEHOLDER;

#[derive(Clone)]
struct ExecSpec {
    command: String,
    onlyif: Option<String>,
    unless: Option<String>,
    creates: Option<PathBuf>,
    cwd: Option<PathBuf>,
    user: Option<String>,
    environment: BTreeMap<String, String>,
    returns: Vec<i32>,
    logoutput: bool,
    background: bool,
    nice: Option<i32>,
    stdin: Option<String>,
    secret_file: Option<String>,
}

impl std::fmt::Debug for ExecSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // stdin and secret_file may hold secrets: never print them.
        f.debug_struct("ExecSpec")
            .field("command", &self.command)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Executor for ExecExecutor {
    fn type_name(&self) -> &str {
        types::exec::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::exec::TYPE, decl.name, decl.attributes)?;
        // A blank command is refused by the definition (`Attrs::new`).
        let command = a.req_str("command")?;
        let onlyif = a.opt_str("onlyif")?;
        let unless = a.opt_str("unless")?;
        let creates = a.opt_str("creates")?.map(PathBuf::from);
        if creates.as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(a.error("creates", "expected an absolute path"));
        }
        let cwd = a.opt_abs_path("cwd")?;
        let user = a.opt_str("user")?;
        let environment = read_environment(&mut a)?;
        let returns = match a.opt_list("returns")? {
            None => vec![0],
            Some(codes) => types::exec::exit_codes(&codes).map_err(|e| a.error("returns", e))?,
        };
        let logoutput = a.flag("logoutput")?;
        let background = a.flag("background")?;
        // 0 to 19, and `stdin` not with `secret_file`: the definition's rules.
        let nice = a
            .opt_u32("nice")?
            .map(|n| n.min(types::exec::MAX_NICE) as i32);
        let stdin = a.opt_str("stdin")?;
        let secret_file = a.opt_str("secret_file")?;
        if secret_file.is_some() && !command.contains(SECRET_FILE_PLACEHOLDER) {
            return Err(a.error(
                "secret_file",
                format!("`command` must use {SECRET_FILE_PLACEHOLDER} where the file path goes"),
            ));
        }
        a.finish()?;
        Ok(Box::new(ExecSpec {
            command,
            onlyif,
            unless,
            creates,
            cwd,
            user,
            environment,
            returns,
            logoutput,
            background,
            nice,
            stdin,
            secret_file,
        }))
    }
}

fn read_environment(a: &mut Attrs<'_>) -> Result<BTreeMap<String, String>, AttrError> {
    let pairs: Vec<String> = match a.opt_value("environment") {
        None => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => {
            let mut env = BTreeMap::new();
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                env.insert(k.clone(), v);
            }
            return Ok(env);
        }
        Some(_) => a.opt_list("environment")?.unwrap_or_default(),
    };
    let mut env = BTreeMap::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                env.insert(k.to_owned(), v.to_owned());
            }
            _ => {
                return Err(a.error(
                    "environment",
                    format!("expected KEY=VALUE, found \"{pair}\""),
                ));
            }
        }
    }
    Ok(env)
}

impl ExecSpec {
    fn credentials(&self) -> Result<Option<(Credentials, PathBuf, String)>, ExecError> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let u = match user.parse::<u32>() {
            Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
            Err(_) => nix::unistd::User::from_name(user),
        }
        .map_err(|e| ExecError::failed(format!("looking up user `{user}`: {e}")))?
        .ok_or_else(|| ExecError::failed(format!("no user named `{user}` on this machine")))?;
        let cname = std::ffi::CString::new(u.name.clone())
            .map_err(|_| ExecError::failed("bad user name"))?;
        let groups = nix::unistd::getgrouplist(&cname, u.gid)
            .map_err(|e| ExecError::failed(format!("groups of `{user}`: {e}")))?
            .into_iter()
            .map(nix::unistd::Gid::as_raw)
            .collect();
        Ok(Some((
            Credentials {
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
                groups,
            },
            u.dir,
            u.name,
        )))
    }

    /// A guard or the main command, as this resource runs it.
    fn spec(&self, script: &str, timeout: Duration) -> Result<CommandSpec, ExecError> {
        let mut spec = CommandSpec::shell(script).timeout(timeout);
        spec.cwd.clone_from(&self.cwd);
        if let Some((creds, home, name)) = self.credentials()? {
            spec.credentials = Some(creds);
            spec = spec
                .env("HOME", home)
                .env("USER", name.clone())
                .env("LOGNAME", name);
        }
        for (k, v) in &self.environment {
            spec.env.push((OsString::from(k), OsString::from(v)));
        }
        Ok(spec)
    }

    fn guard_passes(&self, script: &str, timeout: Duration) -> Result<bool, ExecError> {
        Ok(command::run(&self.spec(script, timeout)?)?.success())
    }
}

/// A private file on a tmpfs holding a secret; removed on drop.
struct SecretFile(tempfile::NamedTempFile);

impl SecretFile {
    fn write(secret: &str) -> Result<Self, ExecError> {
        let dir = ["/dev/shm", "/run"]
            .into_iter()
            .map(PathBuf::from)
            .find(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        // tempfile creates the file 0600.
        let mut f = tempfile::Builder::new()
            .prefix(".vigo-secret.")
            .tempfile_in(&dir)
            .map_err(|e| {
                ExecError::failed(format!("secret_file: temp file in {}: {e}", dir.display()))
            })?;
        f.write_all(secret.as_bytes())
            .map_err(|e| ExecError::failed(format!("secret_file: write: {e}")))?;
        Ok(SecretFile(f))
    }
}

impl Prepared for ExecSpec {
    fn check(&self, ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        if let Some(path) = &self.creates
            && path.exists()
        {
            return Ok(Drift::InSync);
        }
        if let Some(unless) = &self.unless
            && self.guard_passes(unless, ctx.timeout)?
        {
            return Ok(Drift::InSync);
        }
        if let Some(onlyif) = &self.onlyif
            && !self.guard_passes(onlyif, ctx.timeout)?
        {
            return Ok(Drift::Skipped(format!("onlyif `{onlyif}` failed")));
        }
        Ok(Drift::change(
            ChangeKind::Update,
            vec![Difference::new("command", "not run", "run")],
        ))
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        if !matches!(drift, Drift::Change { .. }) {
            return Ok(());
        }
        let secret = self
            .secret_file
            .as_deref()
            .map(SecretFile::write)
            .transpose()?;
        let script = match &secret {
            Some(f) => self.command.replace(
                SECRET_FILE_PLACEHOLDER,
                &shell_words::quote(&f.0.path().to_string_lossy()),
            ),
            None => self.command.clone(),
        };
        let mut spec = self.spec(&script, ctx.timeout)?;
        spec.nice = self.nice.unwrap_or(if self.background { 19 } else { 0 });
        if let Some(input) = &self.stdin {
            spec = spec.stdin(input.as_bytes());
        }
        if self.background {
            return command::spawn_detached(&spec).map_err(ExecError::from);
        }
        let out = command::run(&spec)?;
        drop(secret);
        let accepted = !out.timed_out && out.code.is_some_and(|c| self.returns.contains(&c));
        if accepted {
            return Ok(());
        }
        let summary = format!("command failed ({})", out.describe_exit());
        let mut msg = String::new();
        if self.logoutput {
            let tail = |b: &[u8]| {
                let s = String::from_utf8_lossy(b);
                let s = s.trim();
                if s.len() > 2_000 {
                    format!("…{}", &s[s.ceil_char_boundary(s.len() - 2_000)..])
                } else {
                    s.to_owned()
                }
            };
            let (o, e) = (tail(&out.stdout), tail(&out.stderr));
            if !o.is_empty() {
                msg.push_str(&format!("; stdout: {o}"));
            }
            if !e.is_empty() {
                msg.push_str(&format!("; stderr: {e}"));
            }
        }
        Err(ExecError::Output {
            summary,
            output: msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use serde_json::json;

    use super::*;

    const CTX: Ctx<'static> = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(20),
    };

    fn prepare(attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else { panic!() };
        ExecExecutor.prepare(&ResourceDecl {
            type_name: "exec",
            name: "e",
            attributes: &map,
        })
    }

    #[test]
    fn creates_makes_it_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let marker = tmp.path().join("done");
        let p = prepare(
            json!({"command": format!("echo ran >> {}", marker.display()), "creates": marker}),
        )
        .unwrap();
        let d = p.check(&CTX).unwrap();
        assert!(matches!(d, Drift::Change { .. }));
        p.apply(&d, &CTX).unwrap();
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
        assert_eq!(fs::read_to_string(&marker).unwrap(), "ran\n");
    }

    #[test]
    fn unless_and_onlyif() {
        let p = prepare(json!({"command": "false", "unless": "true"})).unwrap();
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
        let p = prepare(json!({"command": "false", "onlyif": "exit 3"})).unwrap();
        assert_eq!(
            p.check(&CTX).unwrap(),
            Drift::Skipped("onlyif `exit 3` failed".into())
        );
    }

    #[test]
    fn returns_cwd_environment_and_stdin() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let p = prepare(json!({
            "command": format!("pwd > {o}; printf %s \"$A$B\" >> {o}; cat >> {o}; exit 2", o = out.display()),
            "cwd": tmp.path(),
            "environment": "A=1,B=2",
            "stdin": "-in",
            "returns": "0,2",
        }))
        .unwrap();
        let d = p.check(&CTX).unwrap();
        p.apply(&d, &CTX).unwrap();
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            format!("{}\n12-in", tmp.path().display())
        );
    }

    #[test]
    fn failure_reports_exit_and_output_unless_logoutput_is_off() {
        let p = prepare(json!({"command": "echo out; echo err >&2; exit 4"})).unwrap();
        let err = p
            .apply(&p.check(&CTX).unwrap(), &CTX)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "command failed (exit code 4); stdout: out; stderr: err"
        );
        let p = prepare(json!({"command": "echo secret-ish; exit 4", "logoutput": false})).unwrap();
        let err = p
            .apply(&p.check(&CTX).unwrap(), &CTX)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "command failed (exit code 4)");
    }

    #[test]
    fn long_multibyte_output_is_cut_on_a_character_boundary() {
        // 1,001 three-byte characters: the 2,000-byte tail starts mid-character.
        let p = prepare(json!({"command": "printf 'é%.0s' $(seq 1 1001) >&2; printf '€%.0s' $(seq 1 1001) >&2; exit 1"})).unwrap();
        let err = p.apply(&p.check(&CTX).unwrap(), &CTX).unwrap_err();
        let ExecError::Output { summary, output } = err else {
            panic!("not an output error: {err}")
        };
        assert_eq!(summary, "command failed (exit code 1)");
        assert!(output.starts_with("; stderr: …€"), "{output:.40}");
        assert!(output.len() <= 2_000 + "; stderr: …".len());
    }

    #[test]
    fn secret_file_is_private_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let seen = tmp.path().join("seen");
        let p = prepare(json!({
            "command": format!("stat -c %a {{{{secret_file}}}} > {s}; cat {{{{secret_file}}}} >> {s}; echo >> {s}; echo {{{{secret_file}}}} >> {s}", s = seen.display()),
            "secret_file": "hunter2",
        }))
        .unwrap();
        p.apply(&p.check(&CTX).unwrap(), &CTX).unwrap();
        let text = fs::read_to_string(&seen).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("600"));
        assert_eq!(lines.next(), Some("hunter2"));
        let path = lines.next().unwrap();
        assert!(!std::path::Path::new(path).exists(), "secret file removed");
    }

    #[test]
    fn timeout_is_a_failure() {
        let p = prepare(json!({"command": "sleep 5"})).unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_millis(200),
        };
        let err = p
            .apply(&p.check(&ctx).unwrap(), &ctx)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("command failed (timed out after"), "{err}");
    }

    #[test]
    fn bad_attributes() {
        let cases = [
            (
                json!({"command": "x", "nice": 25}),
                "exec \"e\": attribute `nice`: expected 0 to 19, found 25",
            ),
            (
                json!({"command": "x", "returns": "0,ok"}),
                "exec \"e\": attribute `returns`: expected exit codes like \"0,2\", found \"ok\"",
            ),
            (
                json!({"command": "x", "environment": "NOEQUALS"}),
                "exec \"e\": attribute `environment`: expected KEY=VALUE, found \"NOEQUALS\"",
            ),
            (
                json!({"command": "x", "stdin": "a", "secret_file": "b"}),
                "exec \"e\": attribute `stdin`: `secret_file` and `stdin` are mutually exclusive",
            ),
            (
                json!({"command": "x", "secret_file": "b"}),
                "exec \"e\": attribute `secret_file`: `command` must use {{secret_file}} where the file path goes",
            ),
            (
                json!({"onlyif": "true"}),
                "exec \"e\": attribute `command`: is required",
            ),
        ];
        for (attrs, expected) in cases {
            assert_eq!(
                prepare(attrs).err().expect("must fail").to_string(),
                expected
            );
        }
    }
}
