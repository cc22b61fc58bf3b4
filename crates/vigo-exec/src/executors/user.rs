//! `user`: a Unix account — ids, groups, home, shell, comment, password (hashed on the
//! agent) and SSH authorized keys.
//!
//! ```yaml
//! - name: alice
//!   type: user
//!   username: alice
//!   uid: 1500
//!   group: staff               # primary group by name (or gid: 50)
//!   groups: [sudo, adm]        # supplementary, exact (or "sudo,adm")
//!   home: /home/alice
//!   shell: /bin/bash
//!   comment: "Alice Example"
//!   password: "secret:users/alice"   # plaintext from a secret; stored as SHA-512-crypt
//!   password_max_age: 90
//!   authorized_keys: |
//!     ssh-ed25519 AAAAC3Nza... alice@laptop
//!   manage_home: true          # create the home (-m); with absent: remove it (userdel -r)
//!   system: false
//!   state: present
//! ```
//!
//! Read from `/etc/passwd`, `/etc/group` and `/etc/shadow`; changed with `useradd`,
//! `usermod`, `chage` and `userdel`. The password is compared by re-hashing the plaintext
//! with the salt of the stored hash, so an unchanged password is never rewritten; the
//! plaintext never appears in a command line, a message or a log.

use std::collections::BTreeSet;
use std::path::PathBuf;

use sha_crypt::{PasswordHasher, PasswordVerifier, ShaCrypt};

use crate::accounts::{self, PasswdEntry, run_tool};
use crate::atomic::{self, FileMeta};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};
use crate::ids;

/// The `user` executor.
#[derive(Debug, Default)]
pub struct UserExecutor;

#[derive(Clone)]
struct UserSpec {
    name: String,
    present: bool,
    uid: Option<u32>,
    /// Primary group, by name or number.
    group: Option<String>,
    groups: Option<Vec<String>>,
    home: Option<String>,
    shell: Option<String>,
    comment: Option<String>,
    password: Option<String>,
    password_max_age: Option<u32>,
    authorized_keys: Option<String>,
    manage_home: bool,
    system: bool,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name)
            .field("present", &self.present)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Executor for UserExecutor {
    fn type_name(&self) -> &str {
        types::user::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::user::TYPE, decl.name, decl.attributes)?;
        // Names are checked by the definition (`Attrs::new`).
        let name = a.req_str("username")?;
        let present = a.req_present()?;
        let uid = a.opt_u32("uid")?;
        let group_name = a.opt_str("group")?;
        let gid = a.opt_u32("gid")?;
        let group = group_name.or(gid.map(|g| g.to_string()));
        let groups = a.opt_list("groups")?;
        let home = a.opt_str("home")?;
        if home.as_deref().is_some_and(|h| !h.starts_with('/')) {
            return Err(a.error("home", "expected an absolute path"));
        }
        let shell = a.opt_str("shell")?;
        let comment = a.opt_str("comment")?;
        if comment.as_deref().is_some_and(|c| c.contains([':', '\n'])) {
            return Err(a.error("comment", "must not contain `:` or a newline"));
        }
        let password = a.opt_str("password")?;
        let password_max_age = a.opt_u32("password_max_age")?;
        let authorized_keys = a.opt_str("authorized_keys")?;
        let manage_home = a.flag("manage_home")?;
        let system = a.flag("system")?;
        for flag in ["puddle", "gitback", "curator"] {
            if a.has(flag) {
                return Err(a.error(
                    flag,
                    "usercrate swarm features are not supported by this agent yet",
                ));
            }
        }
        a.finish()?;
        Ok(Box::new(UserSpec {
            name,
            present,
            uid,
            group,
            groups,
            home,
            shell,
            comment,
            password,
            password_max_age,
            authorized_keys,
            manage_home,
            system,
        }))
    }
}

/// Hashes a password with SHA-512-crypt and a fresh 16-character salt.
fn hash_password(plain: &str) -> Result<String, ExecError> {
    // 12 random bytes encode to exactly 16 salt characters, glibc's maximum for $6$.
    let mut salt = [0u8; 12];
    getrandom::fill(&mut salt).map_err(|e| ExecError::failed(format!("random salt: {e}")))?;
    ShaCrypt::SHA512
        .hash_password_with_salt(plain.as_bytes(), &salt)
        // glibc writes the default round count implicitly: `$6$salt$digest`.
        .map(|h| h.to_string().replacen("$rounds=5000$", "$", 1))
        .map_err(|e| ExecError::failed(format!("hashing the password: {e}")))
}

/// Whether `plain` matches a stored `$5$`/`$6$` hash (any other scheme: no).
fn password_matches(plain: &str, stored: &str) -> bool {
    (stored.starts_with("$6$") || stored.starts_with("$5$"))
        && ShaCrypt::SHA512
            .verify_password(plain.as_bytes(), stored)
            .is_ok()
}

impl UserSpec {
    fn want_gid(&self) -> Result<Option<u32>, ExecError> {
        self.group
            .as_deref()
            .map(ids::gid_of)
            .transpose()
            .map_err(ExecError::Failed)
    }

    fn keys_path(&self, home: &str) -> PathBuf {
        PathBuf::from(home).join(".ssh/authorized_keys")
    }

    fn keys_content(&self) -> Option<String> {
        self.authorized_keys.as_ref().map(|k| {
            if k.is_empty() || k.ends_with('\n') {
                k.clone()
            } else {
                format!("{k}\n")
            }
        })
    }

    fn diffs(&self, cur: &PasswdEntry) -> Result<Vec<Difference>, ExecError> {
        let mut d = Vec::new();
        if let Some(uid) = self.uid.filter(|u| *u != cur.uid) {
            d.push(Difference::new("uid", cur.uid, uid));
        }
        if let Some(gid) = self.want_gid()?.filter(|g| *g != cur.gid) {
            d.push(Difference::new(
                "group",
                ids::group_name(cur.gid),
                ids::group_name(gid),
            ));
        }
        if let Some(home) = self.home.as_ref().filter(|h| **h != cur.home) {
            d.push(Difference::new("home", &cur.home, home));
        }
        if let Some(shell) = self.shell.as_ref().filter(|s| **s != cur.shell) {
            d.push(Difference::new("shell", &cur.shell, shell));
        }
        if let Some(comment) = self.comment.as_ref().filter(|c| **c != cur.comment) {
            d.push(Difference::new("comment", &cur.comment, comment));
        }
        if let Some(want) = &self.groups {
            let have: BTreeSet<String> = accounts::groups()?
                .into_iter()
                .filter(|g| g.members.contains(&self.name))
                .map(|g| g.name)
                .collect();
            let want: BTreeSet<String> = want.iter().cloned().collect();
            if have != want {
                d.push(Difference::new(
                    "groups",
                    have.into_iter().collect::<Vec<_>>().join(","),
                    want.into_iter().collect::<Vec<_>>().join(","),
                ));
            }
        }
        let shadow = accounts::shadow(&self.name)?;
        if let Some(plain) = &self.password
            && !shadow
                .as_ref()
                .is_some_and(|s| password_matches(plain, &s.hash))
        {
            // Never show a hash or the plaintext.
            d.push(Difference::new("password", "other", "the declared one"));
        }
        if let Some(days) = self.password_max_age
            && shadow.as_ref().and_then(|s| s.max_age) != Some(days)
        {
            let cur_age = shadow
                .and_then(|s| s.max_age)
                .map_or_else(|| "unset".to_owned(), |n| n.to_string());
            d.push(Difference::new("password_max_age", cur_age, days));
        }
        if let Some(keys) = self.keys_content() {
            let home = self.home.as_deref().unwrap_or(&cur.home);
            let have = std::fs::read_to_string(self.keys_path(home)).ok();
            if have.as_deref() != Some(keys.as_str()) {
                d.push(Difference::new(
                    "authorized_keys",
                    if have.is_some() {
                        "other keys"
                    } else {
                        "absent"
                    },
                    format!(
                        "{} keys",
                        keys.lines().filter(|l| !l.trim().is_empty()).count()
                    ),
                ));
            }
        }
        Ok(d)
    }

    fn write_keys(&self, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Some(keys) = self.keys_content() else {
            return Ok(());
        };
        let entry = accounts::passwd()?
            .into_iter()
            .find(|e| e.name == self.name)
            .ok_or_else(|| {
                ExecError::failed(format!(
                    "user {} vanished while being configured",
                    self.name
                ))
            })?;
        let ssh_dir = PathBuf::from(&entry.home).join(".ssh");
        if !ssh_dir.is_dir() {
            std::fs::create_dir_all(&ssh_dir)
                .map_err(|e| ExecError::failed(format!("mkdir {}: {e}", ssh_dir.display())))?;
        }
        std::os::unix::fs::chown(&ssh_dir, Some(entry.uid), Some(entry.gid))
            .map_err(|e| ExecError::failed(format!("chown {}: {e}", ssh_dir.display())))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ssh_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| ExecError::failed(format!("chmod {}: {e}", ssh_dir.display())))?;
        let meta = FileMeta {
            mode: Some(0o600),
            uid: Some(entry.uid),
            gid: Some(entry.gid),
        };
        atomic::write_file(
            &ssh_dir.join("authorized_keys"),
            keys.as_bytes(),
            &meta,
            ctx.snapshots,
        )?;
        Ok(())
    }

    /// Arguments shared by useradd and usermod for the attributes that differ (or all,
    /// when creating).
    fn account_args(
        &self,
        changed: &dyn Fn(&str) -> bool,
        creating: bool,
    ) -> Result<Vec<String>, ExecError> {
        let mut argv = Vec::new();
        if let Some(uid) = self.uid.filter(|_| changed("uid")) {
            argv.extend(["-u".to_owned(), uid.to_string()]);
        }
        if let Some(g) = self.group.as_ref().filter(|_| changed("group")) {
            argv.extend(["-g".to_owned(), g.clone()]);
        }
        if let Some(groups) = self.groups.as_ref().filter(|_| changed("groups")) {
            argv.extend(["-G".to_owned(), groups.join(",")]);
        }
        if let Some(home) = self.home.as_ref().filter(|_| changed("home")) {
            argv.extend(["-d".to_owned(), home.clone()]);
            if !creating && self.manage_home {
                argv.push("-m".to_owned());
            }
        }
        if let Some(shell) = self.shell.as_ref().filter(|_| changed("shell")) {
            argv.extend(["-s".to_owned(), shell.clone()]);
        }
        if let Some(c) = self.comment.as_ref().filter(|_| changed("comment")) {
            argv.extend(["-c".to_owned(), c.clone()]);
        }
        if let Some(plain) = self.password.as_ref().filter(|_| changed("password")) {
            argv.extend(["-p".to_owned(), hash_password(plain)?]);
        }
        Ok(argv)
    }
}

impl Prepared for UserSpec {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let current = accounts::passwd()?
            .into_iter()
            .find(|e| e.name == self.name);
        match (current, self.present) {
            (None, false) => Ok(Drift::InSync),
            (Some(_), false) => Ok(Drift::change(
                ChangeKind::Delete,
                vec![Difference::new("user", &self.name, "absent")],
            )),
            (None, true) => {
                // Validate what can be validated before reporting the creation.
                self.want_gid()?;
                Ok(Drift::change(
                    ChangeKind::Create,
                    vec![Difference::new("user", "absent", &self.name)],
                ))
            }
            (Some(cur), true) => {
                let d = self.diffs(&cur)?;
                Ok(if d.is_empty() {
                    Drift::InSync
                } else {
                    Drift::change(ChangeKind::Update, d)
                })
            }
        }
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { kind, differences } = drift else {
            return Ok(());
        };
        match kind {
            ChangeKind::Delete => {
                let mut argv = vec!["userdel".to_owned()];
                if self.manage_home {
                    argv.push("-r".to_owned());
                }
                argv.push(self.name.clone());
                return run_tool(&argv, ctx.timeout);
            }
            ChangeKind::Create => {
                let mut argv = vec!["useradd".to_owned()];
                argv.extend(self.account_args(&|_| true, true)?);
                argv.push(if self.manage_home { "-m" } else { "-M" }.to_owned());
                if self.system {
                    argv.push("--system".to_owned());
                }
                argv.push(self.name.clone());
                run_tool(&argv, ctx.timeout)?;
            }
            ChangeKind::Update => {
                let changed = |attr: &str| differences.iter().any(|d| d.attribute == attr);
                let args = self.account_args(&changed, false)?;
                if !args.is_empty() {
                    let mut argv = vec!["usermod".to_owned()];
                    argv.extend(args);
                    argv.push(self.name.clone());
                    run_tool(&argv, ctx.timeout)?;
                }
            }
        }
        let changed = |attr: &str| {
            *kind == ChangeKind::Create || differences.iter().any(|d| d.attribute == attr)
        };
        if let Some(days) = self
            .password_max_age
            .filter(|_| changed("password_max_age"))
        {
            run_tool(
                &[
                    "chage".to_owned(),
                    "-M".to_owned(),
                    days.to_string(),
                    self.name.clone(),
                ],
                ctx.timeout,
            )?;
        }
        if changed("authorized_keys") || changed("home") {
            self.write_keys(ctx)?;
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
        UserExecutor.prepare(&ResourceDecl {
            type_name: "user",
            name: "u",
            attributes: &map,
        })
    }

    #[test]
    fn hashes_are_sha512_crypt_with_a_16_char_salt_and_verify() {
        let h = hash_password("correct horse").unwrap();
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(parts[1], "6", "{h}");
        assert_eq!(parts.len(), 4, "$6$salt$digest: {h}");
        let salt = parts[2];
        assert_eq!(salt.len(), 16, "{h}");
        assert!(password_matches("correct horse", &h));
        assert!(!password_matches("wrong", &h));
        assert_ne!(
            hash_password("correct horse").unwrap(),
            h,
            "fresh salt each time"
        );
        // glibc's crypt(3), through openssl, computes the same string from that salt.
        let openssl = std::process::Command::new("openssl")
            .args(["passwd", "-6", "-salt", salt, "correct horse"])
            .output()
            .expect("openssl is part of Debian's standard system");
        assert_eq!(String::from_utf8_lossy(&openssl.stdout).trim(), h);
    }

    #[test]
    fn verifies_a_glibc_hash() {
        // `openssl passwd -6 -salt abcdefgh secret` — the format glibc's crypt(3) reads.
        let glibc = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";
        assert!(password_matches("secret", glibc));
        assert!(!password_matches(
            "secret",
            "$y$j9T$yescrypt-not-comparable"
        ));
    }

    #[test]
    fn root_is_in_sync_when_described_as_it_is() {
        let ctx = Ctx {
            snapshots: None,
            timeout: std::time::Duration::from_secs(5),
        };
        let p = prepare(json!({"username": "root", "uid": 0, "group": "root", "home": "/root", "state": "present"})).unwrap();
        assert_eq!(p.check(&ctx).unwrap(), Drift::InSync);
        let p = prepare(
            json!({"username": "root", "shell": "/bin/vigo-test-shell", "state": "present"}),
        )
        .unwrap();
        assert!(
            p.check(&ctx).unwrap().summary().starts_with("shell "),
            "dry-run names the change"
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let p = UserSpec {
            name: "a".into(),
            present: true,
            uid: None,
            group: None,
            groups: None,
            home: None,
            shell: None,
            comment: None,
            password: Some("hunter2".into()),
            password_max_age: None,
            authorized_keys: None,
            manage_home: true,
            system: false,
        };
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn bad_attributes() {
        let cases = [
            (
                json!({"username": "bad:name", "state": "present"}),
                "user \"u\": attribute `username`: \"bad:name\" is not a valid user name",
            ),
            (
                json!({"username": "a", "group": "x", "gid": 5, "state": "present"}),
                "user \"u\": attribute `gid`: `group` and `gid` are mutually exclusive",
            ),
            (
                json!({"username": "a", "home": "home/a", "state": "present"}),
                "user \"u\": attribute `home`: expected an absolute path",
            ),
            (
                json!({"username": "a", "comment": "x:y", "state": "present"}),
                "user \"u\": attribute `comment`: must not contain `:` or a newline",
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
