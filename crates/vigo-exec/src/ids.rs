//! User and group names ↔ ids, as the machine (or the chroot the agent runs in) sees
//! them through NSS.

use nix::unistd::{Gid, Group, Uid, User};

/// A uid for a user name or a numeric id.
pub fn uid_of(spec: &str) -> Result<u32, String> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    match User::from_name(spec) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(format!("no user named `{spec}` on this machine")),
        Err(e) => Err(format!("looking up user `{spec}`: {e}")),
    }
}

/// A gid for a group name or a numeric id.
pub fn gid_of(spec: &str) -> Result<u32, String> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    match Group::from_name(spec) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("no group named `{spec}` on this machine")),
        Err(e) => Err(format!("looking up group `{spec}`: {e}")),
    }
}

/// Resolves optional `owner` and `group` attributes (names or numbers) to ids.
pub fn owner_group(
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(Option<u32>, Option<u32>), crate::contract::ExecError> {
    let uid = owner
        .map(uid_of)
        .transpose()
        .map_err(crate::contract::ExecError::Failed)?;
    let gid = group
        .map(gid_of)
        .transpose()
        .map_err(crate::contract::ExecError::Failed)?;
    Ok((uid, gid))
}

/// The owner/group differences between a file's metadata and the wanted ids, labelled
/// `owner`/`group` with `suffix` appended (e.g. `" of x"`).
pub fn ownership_diffs(
    md: &std::fs::Metadata,
    uid: Option<u32>,
    gid: Option<u32>,
    suffix: &str,
) -> Vec<crate::contract::Difference> {
    use std::os::unix::fs::MetadataExt;
    let mut diffs = Vec::new();
    if let Some(uid) = uid.filter(|u| *u != md.uid()) {
        diffs.push(crate::contract::Difference::new(
            &format!("owner{suffix}"),
            user_name(md.uid()),
            user_name(uid),
        ));
    }
    if let Some(gid) = gid.filter(|g| *g != md.gid()) {
        diffs.push(crate::contract::Difference::new(
            &format!("group{suffix}"),
            group_name(md.gid()),
            group_name(gid),
        ));
    }
    diffs
}

/// `lstat` of `path`: `None` when nothing is there, an error naming the path otherwise.
pub fn lstat(
    path: &std::path::Path,
) -> Result<Option<std::fs::Metadata>, crate::contract::ExecError> {
    match std::fs::symlink_metadata(path) {
        Ok(md) => Ok(Some(md)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::contract::ExecError::failed(format!(
            "stat {}: {e}",
            path.display()
        ))),
    }
}

/// The user name of a uid, or the number when it has none.
pub fn user_name(uid: u32) -> String {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// The group name of a gid, or the number when it has none.
pub fn group_name(gid: u32) -> String {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_both_ways() {
        assert_eq!(uid_of("root").unwrap(), 0);
        assert_eq!(uid_of("0").unwrap(), 0);
        assert_eq!(gid_of("root").unwrap(), 0);
        assert_eq!(user_name(0), "root");
        assert_eq!(group_name(0), "root");
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        assert_eq!(
            uid_of("no-such-user-vigo").unwrap_err(),
            "no user named `no-such-user-vigo` on this machine"
        );
        assert_eq!(
            gid_of("no-such-group-vigo").unwrap_err(),
            "no group named `no-such-group-vigo` on this machine"
        );
    }
}
