//! `users`: who is logged in (utmp) and the accounts of `/etc/passwd`, split into human,
//! OS and third-party ones.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `users` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Users {
        /// Users with a login session now (distinct, sorted).
        pub logged_in: Vec<String>,
        /// UID ≥ 1000 (not 65534) with a login shell.
        pub human: Vec<String>,
        /// The distribution's own accounts (well-known names, `systemd-*`).
        pub os: Vec<String>,
        /// Other system accounts (created by packages).
        pub thirdparty: Vec<String>,
    }
}

const WELL_KNOWN: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "_apt",
    "messagebus",
    "adm",
    "halt",
    "shutdown",
    "operator",
    "ftp",
    "polkitd",
    "sshd",
    "dbus",
    "tss",
    "uuidd",
    "tcpdump",
];

const NOLOGIN: &[&str] = &[
    "/usr/sbin/nologin",
    "/sbin/nologin",
    "/bin/false",
    "/usr/bin/false",
];

/// Sessions from utmp (`USER_PROCESS` records).
fn logged_in(ctx: &Ctx) -> Vec<String> {
    // struct utmp on Linux: 384 bytes; ut_type (i16) at 0, ut_user[32] at 44.
    const SIZE: usize = 384;
    let Ok(data) =
        std::fs::read(ctx.path("/run/utmp")).or_else(|_| std::fs::read(ctx.path("/var/run/utmp")))
    else {
        return Vec::new();
    };
    let mut users: Vec<String> = data
        .chunks_exact(SIZE)
        .filter(|r| i16::from_ne_bytes([r[0], r[1]]) == 7)
        .map(|r| {
            String::from_utf8_lossy(&r[44..76])
                .trim_end_matches('\0')
                .to_owned()
        })
        .filter(|u| !u.is_empty())
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Classifies `/etc/passwd` text.
pub fn classify(passwd: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut human, mut os, mut third) = (Vec::new(), Vec::new(), Vec::new());
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() != 7 {
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else {
            continue;
        };
        let (name, shell) = (f[0].to_owned(), f[6]);
        if uid >= 1000 && uid != 65534 && !NOLOGIN.contains(&shell) {
            human.push(name);
        } else if uid < 1000 || uid == 65534 {
            if WELL_KNOWN.contains(&name.as_str()) || name.starts_with("systemd-") {
                os.push(name);
            } else {
                third.push(name);
            }
        }
    }
    (human, os, third)
}

/// Collects `users`.
pub fn collect(ctx: &Ctx) -> Result<Users, TraitError> {
    let (human, os, thirdparty) = classify(&ctx.read("/etc/passwd")?);
    Ok(Users {
        logged_in: logged_in(ctx),
        human,
        os,
        thirdparty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let (h, o, t) = classify(
            "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\npostgres:x:105:110::/var/lib/postgresql:/bin/bash\nsvc:x:1001:1001::/:/usr/sbin/nologin\nsystemd-network:x:998:998::/:/usr/sbin/nologin\n",
        );
        assert_eq!(h, vec!["alice"]);
        assert_eq!(o, vec!["root", "nobody", "systemd-network"]);
        assert_eq!(t, vec!["postgres"]);
    }
}
