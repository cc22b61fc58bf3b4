//! Read-only views of the account databases (`/etc/passwd`, `/etc/group`, `/etc/shadow`)
//! as the `user` and `group` executors compare them, read directly from the files (the
//! machine's — or the sandbox's — own), and the one helper that runs the shadow-utils
//! tools (`useradd`, `groupmod`, …).

use std::path::Path;
use std::time::Duration;

use crate::command::{self, CommandSpec};
use crate::contract::ExecError;

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS comment.
    pub comment: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Explicit members (not users having it as primary group).
    pub members: Vec<String>,
}

/// One `/etc/shadow` entry (the fields Vigo manages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    /// The password hash (`!`/`*` when locked or none).
    pub hash: String,
    /// Maximum password age in days, when set.
    pub max_age: Option<u32>,
}

fn read(path: &str) -> Result<String, ExecError> {
    std::fs::read_to_string(path).map_err(|e| ExecError::failed(format!("read {path}: {e}")))
}

/// All `/etc/passwd` entries (malformed lines are skipped, as libc does).
pub fn passwd() -> Result<Vec<PasswdEntry>, ExecError> {
    Ok(parse_passwd(&read("/etc/passwd")?))
}

/// All `/etc/group` entries.
pub fn groups() -> Result<Vec<GroupEntry>, ExecError> {
    Ok(parse_group(&read("/etc/group")?))
}

/// The `/etc/shadow` entry of `user`, if any.
pub fn shadow(user: &str) -> Result<Option<ShadowEntry>, ExecError> {
    if !Path::new("/etc/shadow").exists() {
        return Ok(None);
    }
    Ok(parse_shadow(&read("/etc/shadow")?, user))
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() != 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_owned(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                comment: f[4].to_owned(),
                home: f[5].to_owned(),
                shell: f[6].to_owned(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() != 4 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_owned(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect()
}

fn parse_shadow(text: &str, user: &str) -> Option<ShadowEntry> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 5 && f[0] == user).then(|| ShadowEntry {
            hash: f[1].to_owned(),
            max_age: f[4].parse().ok(),
        })
    })
}

/// Runs one shadow-utils tool; a non-zero exit is a failure carrying its stderr.
pub fn run_tool(argv: &[String], timeout: Duration) -> Result<(), ExecError> {
    let spec = CommandSpec::new(argv.iter().map(String::as_str)).timeout(timeout);
    let out = command::run(&spec)?;
    if out.success() {
        Ok(())
    } else {
        // Never echo the argv: `-p` carries a password hash.
        Err(ExecError::failed(format!(
            "{} failed ({}): {}",
            argv.first().map_or("", String::as_str),
            out.describe_exit(),
            out.stderr_str().trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_files() {
        let p = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbroken\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].comment, "Alice A,,,");
        let g = parse_group("sudo:x:27:alice,bob\nusers:x:100:\n");
        assert_eq!(g[0].members, vec!["alice", "bob"]);
        assert!(g[1].members.is_empty());
        let s = parse_shadow(
            "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:90:7:::\n",
            "alice",
        )
        .unwrap();
        assert_eq!(s.hash, "$6$salt$hash");
        assert_eq!(s.max_age, Some(90));
    }

    #[test]
    fn this_machine_has_root() {
        assert!(
            passwd()
                .unwrap()
                .iter()
                .any(|e| e.name == "root" && e.uid == 0)
        );
        assert!(
            groups()
                .unwrap()
                .iter()
                .any(|g| g.name == "root" && g.gid == 0)
        );
    }
}
