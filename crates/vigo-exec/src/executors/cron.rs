//! `cron`: a job as its own file in `/etc/cron.d/`, named after the resource.
//!
//! ```yaml
//! - name: backup-nightly          # becomes /etc/cron.d/backup-nightly
//!   type: cron
//!   command: "/usr/local/bin/backup --quiet"
//!   schedule: "30 2 * * *"        # or @daily, @hourly, @reboot, …; overrides the fields
//!   # minute: "30"  hour: "2"  day: "*"  month: "*"  weekday: "*"
//!   user: root
//!   environment: "MAILTO=ops@example.com,PATH=/usr/local/bin:/usr/bin:/bin"
//!   state: present
//! ```
//!
//! The file is written with the shared `file` executor (atomic, snapshotted, mode 0644,
//! owned by root), so drift is a content comparison. cron ignores files in `/etc/cron.d`
//! whose names contain anything but letters, digits, `_` and `-`: such names are refused.

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use vigo_core::cron;

use super::file::FileExecutor;
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{Executor, Prepared, ResourceDecl};

/// The `cron` executor.
#[derive(Debug, Default)]
pub struct CronExecutor;

/// Where cron jobs are written.
pub const CRON_DIR: &str = "/etc/cron.d";

impl Executor for CronExecutor {
    fn type_name(&self) -> &str {
        types::cron::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::cron::TYPE, decl.name, decl.attributes)?;
        if decl.name.is_empty()
            || !decl
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(a.error(
                "name",
                format!("\"{}\" cannot be a file in {CRON_DIR}: cron only reads names made of letters, digits, _ and -", decl.name),
            ));
        }
        let present = a.req_present()?;
        // Present needs a command of one line: the definition's rules (`Attrs::new`).
        let command = a.opt_str("command")?;
        let schedule = match a.opt_str("schedule")? {
            Some(s) => {
                // The schedule overrides the fields, which are still read as strings
                // (as publish does), so a resource that publishes prepares.
                for field in cron::Field::ALL {
                    a.opt_str(field.name())?;
                }
                let s = s.trim().to_owned();
                cron::check_schedule(&s).map_err(|e| a.error("schedule", e.message))?;
                s
            }
            None => {
                let mut fields = Vec::with_capacity(5);
                for field in cron::Field::ALL {
                    let text = a.opt_str(field.name())?.unwrap_or_else(|| "*".to_owned());
                    cron::check_field(field, text.trim())
                        .map_err(|e| a.error(field.name(), e.message))?;
                    fields.push(text.trim().to_owned());
                }
                fields.join(" ")
            }
        };
        let user = a.opt_str("user")?.unwrap_or_else(|| "root".to_owned());
        let environment = a.opt_list("environment")?.unwrap_or_default();
        for pair in &environment {
            types::cron::check_environment_line(pair).map_err(|e| a.error("environment", e))?;
        }
        a.finish()?;
        let path = PathBuf::from(CRON_DIR).join(decl.name);
        let mut attrs = Map::new();
        attrs.insert("target_path".into(), json!(path));
        attrs.insert(
            "state".into(),
            json!(if present { "present" } else { "absent" }),
        );
        if present {
            attrs.insert(
                "content".into(),
                Value::String(render(
                    decl.name,
                    &environment,
                    &schedule,
                    &user,
                    command.as_deref().unwrap_or_default(),
                )),
            );
            attrs.insert("mode".into(), json!("0644"));
            attrs.insert("owner".into(), json!("root"));
            attrs.insert("group".into(), json!("root"));
        }
        FileExecutor.prepare(&ResourceDecl {
            type_name: "file",
            name: decl.name,
            attributes: &attrs,
        })
    }
}

/// The file's content.
fn render(name: &str, environment: &[String], schedule: &str, user: &str, command: &str) -> String {
    let mut out =
        format!("# Managed by Vigo (cron resource \"{name}\"); local changes are overwritten.\n");
    for pair in environment {
        out.push_str(pair);
        out.push('\n');
    }
    out.push_str(&format!("{schedule} {user} {command}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(name: &str, attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else { panic!() };
        CronExecutor.prepare(&ResourceDecl {
            type_name: "cron",
            name,
            attributes: &map,
        })
    }

    #[test]
    fn renders_environment_schedule_user_command() {
        assert_eq!(
            render(
                "backup",
                &["MAILTO=ops".to_owned()],
                "30 2 * * *",
                "root",
                "/bin/backup"
            ),
            "# Managed by Vigo (cron resource \"backup\"); local changes are overwritten.\nMAILTO=ops\n30 2 * * * root /bin/backup\n"
        );
    }

    #[test]
    fn accepts_fields_keywords_and_schedules() {
        prepare(
            "a",
            json!({"command": "x", "minute": "*/5", "weekday": "1-5", "state": "present"}),
        )
        .unwrap();
        prepare(
            "b",
            json!({"command": "x", "schedule": "@daily", "state": "present"}),
        )
        .unwrap();
        prepare(
            "c",
            json!({"command": "x", "schedule": "0 3 * * mon", "state": "present"}),
        )
        .unwrap();
        prepare("d", json!({"state": "absent"})).unwrap();
    }

    #[test]
    fn refuses_bad_names_and_fields() {
        let cases = [
            (
                "nightly.sh",
                json!({"command": "x", "state": "present"}),
                "cron \"nightly.sh\": attribute `name`: \"nightly.sh\" cannot be a file in /etc/cron.d: cron only reads names made of letters, digits, _ and -",
            ),
            (
                "a",
                json!({"command": "x", "schedule": "0 3 * *", "state": "present"}),
                "cron \"a\": attribute `schedule`: expected 5 fields (minute hour day month weekday) or one of @reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, found \"0 3 * *\"",
            ),
            (
                "a",
                json!({"command": "x", "hour": "2;rm", "state": "present"}),
                "cron \"a\": attribute `hour`: hour `2;rm` is not a number: expected *, 0-23, a range a-b, a list a,b or a step */n",
            ),
            (
                "a",
                json!({"command": "x", "schedule": "99 99 * * *", "state": "present"}),
                "cron \"a\": attribute `schedule`: minute `99` is out of range 0-59: expected *, 0-59, a range a-b, a list a,b or a step */n",
            ),
            (
                "a",
                json!({"state": "present"}),
                "cron \"a\": attribute `command`: is required when state is present",
            ),
        ];
        for (name, attrs, expected) in cases {
            assert_eq!(
                prepare(name, attrs).err().expect("must fail").to_string(),
                expected
            );
        }
    }
}
