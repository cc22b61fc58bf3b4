//! `packages`: installed packages and versions, read directly from the package database
//! (`/var/lib/dpkg/status`, or `/var/lib/rpm/rpmdb.sqlite`; no `dpkg-query` or `rpm`
//! subprocess; the rpm database through SQLite, honouring its write-ahead log).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `packages` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Packages {
        /// `dpkg` (or `rpm`).
        pub manager: String,
        /// Installed packages.
        pub count: usize,
        /// Name → version of every installed package (for rpm `epoch:version-release`, as
        /// `rpm -q` prints it).
        pub installed: BTreeMap<String, String>,
    }
}

/// Installed packages of a dpkg status file.
pub fn parse_dpkg(status: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stanza in status.split("\n\n") {
        let (mut name, mut version, mut installed) = (None, None, false);
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(n), Some(v), true) = (name, version, installed) {
            out.insert(n.to_owned(), v.to_owned());
        }
    }
    out
}

/// Collects `packages`.
pub fn collect(ctx: &Ctx) -> Result<Packages, TraitError> {
    if let Ok(status) = ctx.read("/var/lib/dpkg/status") {
        let installed = parse_dpkg(&status);
        return Ok(Packages {
            manager: "dpkg".into(),
            count: installed.len(),
            installed,
        });
    }
    let rpmdb = ctx.path("/var/lib/rpm/rpmdb.sqlite");
    if rpmdb.exists() {
        let installed = super::rpmdb::installed(&rpmdb)?;
        return Ok(Packages {
            manager: "rpm".into(),
            count: installed.len(),
            installed,
        });
    }
    if ctx.path("/var/lib/rpm/Packages").exists() {
        return Err(TraitError::malformed(
            "this rpm database uses the Berkeley DB format (rpm < 4.16), which is not supported",
        ));
    }
    Err(TraitError::malformed(
        "no package database found (/var/lib/dpkg/status or /var/lib/rpm/rpmdb.sqlite)",
    ))
}
