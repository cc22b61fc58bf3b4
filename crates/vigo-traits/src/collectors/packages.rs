//! `packages`: installed packages and versions, read directly from the package database
//! (`/var/lib/dpkg/status`, or `/var/lib/rpm/rpmdb.sqlite`; no `dpkg-query` or `rpm`
//! subprocess).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ctx::{Ctx, TraitError};

/// The `packages` trait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packages {
    /// `dpkg` (or `rpm`).
    pub manager: String,
    /// Installed packages.
    pub count: usize,
    /// Name → version of every installed package.
    pub installed: BTreeMap<String, String>,
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
        let data =
            std::fs::read(&rpmdb).map_err(|e| TraitError(format!("{}: {e}", rpmdb.display())))?;
        let installed = super::rpmdb::installed(&data)?;
        return Ok(Packages {
            manager: "rpm".into(),
            count: installed.len(),
            installed,
        });
    }
    if ctx.path("/var/lib/rpm/Packages").exists() {
        return Err(TraitError::new(
            "this rpm database uses the Berkeley DB format (rpm < 4.16), which is not supported",
        ));
    }
    Err(TraitError::new(
        "no package database found (/var/lib/dpkg/status or /var/lib/rpm/rpmdb.sqlite)",
    ))
}
