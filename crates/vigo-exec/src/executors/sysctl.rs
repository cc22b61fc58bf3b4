//! `sysctl`: a kernel parameter, set at run time and persisted.
//!
//! ```yaml
//! - name: forwarding
//!   type: sysctl
//!   key: net.ipv4.ip_forward
//!   value: "1"
//!   persist: true        # default: /etc/sysctl.d/99-vigo-<key>.conf
//!   state: present
//! ```
//!
//! The live value is read from and written to `/proc/sys` directly (whitespace between
//! fields is normalised, so `"4096 87380 6291456"` compares as written). `absent` removes
//! only the persisted file; the running value is left as it is.

use std::fs;
use std::path::PathBuf;

use crate::atomic::{self, FileMeta};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};

/// The `sysctl` executor.
#[derive(Debug, Default)]
pub struct SysctlExecutor;

#[derive(Debug, Clone)]
struct SysctlSpec {
    key: String,
    /// `None` for `state: absent`.
    value: Option<String>,
    persist: bool,
}

impl Executor for SysctlExecutor {
    fn type_name(&self) -> &str {
        types::sysctl::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::sysctl::TYPE, decl.name, decl.attributes)?;
        let present = a.req_present()?;
        // The key is checked by the definition (`Attrs::new`).
        let key = a.req_str("key")?;
        let value = a.opt_str("value")?.map(|v| normalise(&v));
        if present && value.is_none() {
            return Err(a.error("value", "is required when state is present"));
        }
        let persist = a.flag("persist")?;
        a.finish()?;
        Ok(Box::new(SysctlSpec {
            key,
            value: if present { value } else { None },
            persist,
        }))
    }
}

fn normalise(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl SysctlSpec {
    fn proc_path(&self) -> PathBuf {
        PathBuf::from("/proc/sys").join(self.key.replace('.', "/"))
    }

    fn conf_path(&self) -> PathBuf {
        PathBuf::from(format!("/etc/sysctl.d/99-vigo-{}.conf", self.key))
    }

    fn conf_content(&self, value: &str) -> String {
        format!("# Managed by Vigo.\n{} = {value}\n", self.key)
    }
}

impl Prepared for SysctlSpec {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let conf = fs::read_to_string(self.conf_path()).ok();
        let Some(value) = &self.value else {
            return Ok(if conf.is_some() {
                Drift::change(
                    ChangeKind::Delete,
                    vec![Difference::new(
                        "persisted",
                        self.conf_path().display(),
                        "absent",
                    )],
                )
            } else {
                Drift::InSync
            });
        };
        let live = fs::read_to_string(self.proc_path()).map_err(|e| {
            ExecError::failed(format!(
                "{} ({}): {e}",
                self.key,
                self.proc_path().display()
            ))
        })?;
        let mut diffs = Vec::new();
        let live = normalise(&live);
        if live != *value {
            diffs.push(Difference::new("value", live, value));
        }
        if self.persist && conf.as_deref() != Some(self.conf_content(value).as_str()) {
            diffs.push(Difference::new(
                "persisted",
                if conf.is_some() { "other" } else { "absent" },
                value,
            ));
        }
        Ok(if diffs.is_empty() {
            Drift::InSync
        } else {
            Drift::change(ChangeKind::Update, diffs)
        })
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { differences, .. } = drift else {
            return Ok(());
        };
        let Some(value) = &self.value else {
            atomic::remove_file(&self.conf_path(), ctx.snapshots)?;
            return Ok(());
        };
        if differences.iter().any(|d| d.attribute == "value") {
            fs::write(self.proc_path(), format!("{value}\n"))
                .map_err(|e| ExecError::failed(format!("setting {} = {value}: {e}", self.key)))?;
        }
        if differences.iter().any(|d| d.attribute == "persisted") {
            // A new file is 0644 root:root; a rewrite keeps what the file has.
            let new = !self.conf_path().exists();
            let meta = FileMeta {
                mode: new.then_some(0o644),
                uid: new.then_some(0),
                gid: new.then_some(0),
            };
            fs::create_dir_all("/etc/sysctl.d")
                .map_err(|e| ExecError::failed(format!("mkdir /etc/sysctl.d: {e}")))?;
            atomic::write_file(
                &self.conf_path(),
                self.conf_content(value).as_bytes(),
                &meta,
                ctx.snapshots,
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
        SysctlExecutor.prepare(&ResourceDecl {
            type_name: "sysctl",
            name: "s",
            attributes: &map,
        })
    }

    #[test]
    fn paths_and_content() {
        let s = SysctlSpec {
            key: "net.ipv4.ip_forward".into(),
            value: Some("1".into()),
            persist: true,
        };
        assert_eq!(
            s.proc_path(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            s.conf_path(),
            PathBuf::from("/etc/sysctl.d/99-vigo-net.ipv4.ip_forward.conf")
        );
        assert_eq!(
            s.conf_content("1"),
            "# Managed by Vigo.\nnet.ipv4.ip_forward = 1\n"
        );
        assert_eq!(normalise(" 4096\t87380   6291456\n"), "4096 87380 6291456");
    }

    #[test]
    fn live_value_is_read_from_proc() {
        // kernel.ostype is read-only and always "Linux": in sync without persistence.
        let p = prepare(
            json!({"key": "kernel.ostype", "value": "Linux", "persist": false, "state": "present"}),
        )
        .unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: std::time::Duration::from_secs(5),
        };
        assert_eq!(p.check(&ctx).unwrap(), Drift::InSync);
        let p = prepare(
            json!({"key": "kernel.ostype", "value": "Plan9", "persist": false, "state": "present"}),
        )
        .unwrap();
        assert_eq!(p.check(&ctx).unwrap().summary(), "value Linux → Plan9");
    }

    #[test]
    fn bad_keys() {
        for key in ["../../etc/passwd", "", "net ipv4"] {
            let err = prepare(json!({"key": key, "value": "1", "state": "present"}))
                .err()
                .unwrap()
                .to_string();
            assert_eq!(
                err,
                format!("sysctl \"s\": attribute `key`: \"{key}\" is not a sysctl key")
            );
        }
    }
}
