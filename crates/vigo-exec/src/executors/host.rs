//! `host`: one entry of `/etc/hosts`.
//!
//! ```yaml
//! - name: db-alias
//!   type: host
//!   hostname: db.internal
//!   ip: 10.0.0.5
//!   aliases: "db postgres"        # space-separated (a list works too)
//!   state: present
//! ```
//!
//! An entry is the line whose canonical name (the second field) is `hostname`. `present`
//! updates that line in place (keeping a trailing comment) or appends one; duplicates of
//! the entry further down are removed. `absent` removes it. Comments, blank lines and the
//! agent's own `# BEGIN/END vigo swarm peers` block are never touched. `target_path`
//! (default `/etc/hosts`) names another hosts file; a symbolic link is followed and its
//! target edited in place, keeping its mode and owner (`follow: false` refuses it). A
//! missing hosts file is created with mode 0644.

use std::path::{Path, PathBuf};

use super::edit::{ContentEdit, Edited, follow, join_lines, split_lines};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `host` executor.
#[derive(Debug, Default)]
pub struct HostExecutor;

const SWARM_BEGIN: &str = "# BEGIN vigo swarm peers";
const SWARM_END: &str = "# END vigo swarm peers";

#[derive(Debug, Clone)]
struct HostEntry {
    path: PathBuf,
    hostname: String,
    /// `None` for `state: absent`.
    ip: Option<std::net::IpAddr>,
    aliases: Vec<String>,
}

impl Executor for HostExecutor {
    fn type_name(&self) -> &str {
        types::host::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::host::TYPE, decl.name, decl.attributes)?;
        let path = match a.opt_str("target_path")? {
            None => PathBuf::from("/etc/hosts"),
            Some(p) if p.starts_with('/') => PathBuf::from(p),
            Some(p) => {
                return Err(a.error(
                    "target_path",
                    format!("expected an absolute path, found \"{p}\""),
                ));
            }
        };
        let present = a.req_present()?;
        // The name is checked by the definition (`Attrs::new`).
        let hostname = a.req_str("hostname")?;
        let ip = match a.opt_str("ip")? {
            None if present => return Err(a.error("ip", "is required when state is present")),
            None => None,
            Some(text) => Some(types::host::parse_ip(&text).map_err(|e| a.error("ip", e))?),
        };
        let aliases = match a.opt_value("aliases") {
            Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(_) => a.opt_list("aliases")?.unwrap_or_default(),
            None => Vec::new(),
        };
        let links = follow(&mut a)?;
        a.finish()?;
        Ok(Box::new(Edited::new(
            HostEntry {
                path,
                hostname,
                ip: if present { ip } else { None },
                aliases,
            },
            links,
        )))
    }
}

impl ContentEdit for HostEntry {
    fn path(&self) -> &Path {
        &self.path
    }

    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError> {
        let text = match current {
            Some(t) => t,
            None if self.ip.is_none() => return Ok(None),
            None => "",
        };
        let (lines, trailing) = split_lines(text);
        let wanted = self.ip.map(|ip| {
            let mut fields = vec![ip.to_string(), self.hostname.clone()];
            fields.extend(self.aliases.iter().cloned());
            fields
        });
        let mut out: Vec<String> = Vec::with_capacity(lines.len() + 1);
        let mut in_swarm = false;
        let mut written = false;
        for l in &lines {
            if l.trim() == SWARM_BEGIN {
                in_swarm = true;
            }
            if in_swarm {
                in_swarm = l.trim() != SWARM_END;
                out.push((*l).to_owned());
                continue;
            }
            let (entry, comment) = l.split_once('#').map_or((*l, None), |(e, c)| (e, Some(c)));
            let fields: Vec<&str> = entry.split_whitespace().collect();
            if fields.get(1) != Some(&self.hostname.as_str()) {
                out.push((*l).to_owned());
                continue;
            }
            // Otherwise: a duplicate, or the entry being removed — dropped.
            if let (Some(w), false) = (&wanted, written) {
                written = true;
                if fields == w.iter().map(String::as_str).collect::<Vec<_>>() {
                    out.push((*l).to_owned());
                } else {
                    let mut line = w.join("\t");
                    if let Some(c) = comment {
                        line.push_str(&format!("\t#{c}"));
                    }
                    out.push(line);
                }
            }
        }
        if let (Some(w), false) = (&wanted, written) {
            // Before the swarm block when there is one, so that block stays last.
            let at = out
                .iter()
                .position(|l| l.trim() == SWARM_BEGIN)
                .unwrap_or(out.len());
            out.insert(at, w.join("\t"));
            return Ok(Some(join_lines(&out, true)));
        }
        Ok(Some(join_lines(&out, trailing)))
    }
}

#[cfg(test)]
mod tests {

    use serde_json::{Value, json};

    use super::*;

    use crate::executors::edit::testing::converge;

    fn run(initial: &str, attrs: Value) -> String {
        converge(&HostExecutor, Some(initial), attrs)
            .unwrap()
            .unwrap()
    }

    const HOSTS: &str = "127.0.0.1\tlocalhost\n# office\n10.0.0.4 db.internal db # old\n";

    #[test]
    fn updates_in_place_keeping_comments() {
        assert_eq!(
            run(
                HOSTS,
                json!({"hostname": "db.internal", "ip": "10.0.0.5", "aliases": "db pg", "state": "present"})
            ),
            "127.0.0.1\tlocalhost\n# office\n10.0.0.5\tdb.internal\tdb\tpg\t# old\n"
        );
    }

    #[test]
    fn appends_before_the_swarm_block_and_removes_duplicates() {
        let hosts = "127.0.0.1 localhost\n10.1.1.1 app\n10.1.1.2 app\n# BEGIN vigo swarm peers\n10.9.9.9 app\n# END vigo swarm peers\n";
        assert_eq!(
            run(
                hosts,
                json!({"hostname": "app", "ip": "10.1.1.3", "state": "present"})
            ),
            "127.0.0.1 localhost\n10.1.1.3\tapp\n# BEGIN vigo swarm peers\n10.9.9.9 app\n# END vigo swarm peers\n"
        );
        assert_eq!(
            run(
                "127.0.0.1 localhost\n",
                json!({"hostname": "new.example", "ip": "::1", "state": "present"})
            ),
            "127.0.0.1 localhost\n::1\tnew.example\n"
        );
    }

    #[test]
    fn absent_removes_the_entry() {
        assert_eq!(
            run(HOSTS, json!({"hostname": "db.internal", "state": "absent"})),
            "127.0.0.1\tlocalhost\n# office\n"
        );
    }

    #[test]
    fn bad_ip() {
        let Value::Object(map) = json!({"hostname": "x", "ip": "10.0.0.300", "state": "present"})
        else {
            panic!()
        };
        assert_eq!(
            HostExecutor
                .prepare(&ResourceDecl {
                    type_name: "host",
                    name: "h",
                    attributes: &map
                })
                .err()
                .unwrap()
                .to_string(),
            "host \"h\": attribute `ip`: \"10.0.0.300\" is not an IPv4 or IPv6 address"
        );
    }
}
