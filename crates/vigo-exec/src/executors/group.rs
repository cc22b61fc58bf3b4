//! `group`: a Unix group, its gid and its exact member list.
//!
//! ```yaml
//! - name: deploy-group
//!   type: group
//!   group: deploy
//!   gid: 2001
//!   system: false
//!   members: "alice,bob"     # exact: missing members are added, others removed
//!   state: present
//! ```
//!
//! Read from `/etc/group`; changed with `groupadd`, `groupmod`, `gpasswd -M` and
//! `groupdel`. Without `members`, membership is left alone.

use crate::accounts::{self, run_tool};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};

/// The `group` executor.
#[derive(Debug, Default)]
pub struct GroupExecutor;

#[derive(Debug, Clone)]
struct GroupSpec {
    name: String,
    present: bool,
    gid: Option<u32>,
    system: bool,
    members: Option<Vec<String>>,
}

impl Executor for GroupExecutor {
    fn type_name(&self) -> &str {
        types::group::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::group::TYPE, decl.name, decl.attributes)?;
        // Names are checked by the definition (`Attrs::new`).
        let name = a.req_str("group")?;
        let present = a.req_present()?;
        let gid = a.opt_u32("gid")?;
        let system = a.flag("system")?;
        let members = a.opt_list("members")?;
        a.finish()?;
        Ok(Box::new(GroupSpec {
            name,
            present,
            gid,
            system,
            members,
        }))
    }
}

impl Prepared for GroupSpec {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let current = accounts::groups()?
            .into_iter()
            .find(|g| g.name == self.name);
        let Some(g) = current else {
            if !self.present {
                return Ok(Drift::InSync);
            }
            let mut diffs = vec![Difference::new("group", "absent", &self.name)];
            if let Some(m) = &self.members
                && !m.is_empty()
            {
                diffs.push(Difference::new("members", "", m.join(",")));
            }
            return Ok(Drift::change(ChangeKind::Create, diffs));
        };
        if !self.present {
            return Ok(Drift::change(
                ChangeKind::Delete,
                vec![Difference::new("group", &self.name, "absent")],
            ));
        }
        let mut diffs = Vec::new();
        if let Some(gid) = self.gid.filter(|gid| *gid != g.gid) {
            diffs.push(Difference::new("gid", g.gid, gid));
        }
        if let Some(want) = &self.members {
            let mut have = g.members;
            let mut want_sorted = want.clone();
            have.sort();
            want_sorted.sort();
            want_sorted.dedup();
            if have != want_sorted {
                diffs.push(Difference::new(
                    "members",
                    have.join(","),
                    want_sorted.join(","),
                ));
            }
        }
        Ok(if diffs.is_empty() {
            Drift::InSync
        } else {
            Drift::change(ChangeKind::Update, diffs)
        })
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { kind, differences } = drift else {
            return Ok(());
        };
        let s = |x: &str| x.to_owned();
        match kind {
            ChangeKind::Delete => {
                return run_tool(&[s("groupdel"), self.name.clone()], ctx.timeout);
            }
            ChangeKind::Create => {
                let mut argv = vec![s("groupadd")];
                if let Some(gid) = self.gid {
                    argv.extend([s("-g"), gid.to_string()]);
                }
                if self.system {
                    argv.push(s("--system"));
                }
                argv.push(self.name.clone());
                run_tool(&argv, ctx.timeout)?;
            }
            ChangeKind::Update => {
                if let Some(gid) = self.gid
                    && differences.iter().any(|d| d.attribute == "gid")
                {
                    run_tool(
                        &[s("groupmod"), s("-g"), gid.to_string(), self.name.clone()],
                        ctx.timeout,
                    )?;
                }
            }
        }
        if let Some(members) = &self.members
            && differences.iter().any(|d| d.attribute == "members")
        {
            run_tool(
                &[s("gpasswd"), s("-M"), members.join(","), self.name.clone()],
                ctx.timeout,
            )?;
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
        GroupExecutor.prepare(&ResourceDecl {
            type_name: "group",
            name: "g",
            attributes: &map,
        })
    }

    #[test]
    fn root_group_is_in_sync_here() {
        let ctx = Ctx {
            snapshots: None,
            timeout: std::time::Duration::from_secs(5),
        };
        let p = prepare(json!({"group": "root", "gid": 0, "state": "present"})).unwrap();
        assert_eq!(p.check(&ctx).unwrap(), Drift::InSync);
        let p = prepare(json!({"group": "root", "gid": "5", "state": "present"})).unwrap();
        assert_eq!(
            p.check(&ctx).unwrap().summary(),
            "gid 0 → 5",
            "dry-run reports the change"
        );
    }

    #[test]
    fn bad_names() {
        assert_eq!(
            prepare(json!({"group": "-rf", "state": "present"}))
                .err()
                .unwrap()
                .to_string(),
            "group \"g\": attribute `group`: \"-rf\" is not a valid group name"
        );
        assert_eq!(
            prepare(json!({"group": "ok", "members": "alice,b ob", "state": "present"}))
                .err()
                .unwrap()
                .to_string(),
            "group \"g\": attribute `members`: \"b ob\" is not a valid user name"
        );
    }
}
