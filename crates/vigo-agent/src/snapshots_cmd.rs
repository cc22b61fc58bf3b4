//! `vigo snapshots list [PATH] | show ID | restore ID`: the file snapshots every executor
//! takes before it rewrites or deletes a file (see `vigo_exec::snapshot`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use vigo_exec::snapshot::{SnapshotInfo, SnapshotStore};

use crate::cli::SnapshotsCommand;

/// Runs one `vigo snapshots` subcommand against the store at `dir`.
pub fn run(dir: &Path, retention: u32, command: &SnapshotsCommand) -> Result<ExitCode> {
    let store = SnapshotStore::new(dir, retention as usize);
    let mut out = std::io::stdout().lock();
    match command {
        SnapshotsCommand::List { path } => {
            let path = path.as_deref().map(absolute).transpose()?;
            let snaps = store.list(path.as_deref())?;
            if snaps.is_empty() {
                writeln!(out, "no snapshots in {}", dir.display())?;
            } else {
                writeln!(
                    out,
                    "{:<37}  {:<20}  {:>9}  {:<5}  PATH",
                    "ID", "TAKEN (UTC)", "SIZE", "MODE"
                )?;
                for s in &snaps {
                    writeln!(out, "{}", list_line(s))?;
                }
            }
        }
        SnapshotsCommand::Show { id } => {
            let (_, content) = store.show(id)?;
            out.write_all(&content)?;
        }
        SnapshotsCommand::Restore { id } => {
            let info = store.restore(id)?;
            tracing::info!(
                "restored {} from snapshot {} (taken {}); its previous content was snapshotted",
                info.path.display(),
                info.id,
                format_utc(info.meta.taken_at_nanos)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn absolute(p: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

fn list_line(s: &SnapshotInfo) -> String {
    format!(
        "{:<37}  {:<20}  {:>9}  {:04o}   {}{}",
        s.id,
        format_utc(s.meta.taken_at_nanos),
        s.meta.size,
        s.meta.mode,
        s.path.display(),
        if s.meta.content_kept {
            ""
        } else {
            "  (no content: written from a secret)"
        }
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` for nanoseconds since the epoch.
fn format_utc(nanos: u128) -> String {
    let secs = i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{secs}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_without_content_says_why() {
        let meta = vigo_exec::snapshot::SnapshotMeta {
            mode: 0o600,
            uid: 0,
            gid: 0,
            size: 24,
            sha256: String::new(),
            taken_at_nanos: 1_700_000_000_000_000_000,
            content_kept: false,
        };
        let info = SnapshotInfo {
            id: "5f0c3b0e9a4d2c11-01700000000000000000".into(),
            path: "/etc/app/raw".into(),
            meta,
        };
        insta::assert_snapshot!(list_line(&info), @"5f0c3b0e9a4d2c11-01700000000000000000  2023-11-14T22:13:20Z         24  0600   /etc/app/raw  (no content: written from a secret)");
    }

    #[test]
    fn formats_epoch_nanos_as_rfc3339() {
        assert_eq!(
            format_utc(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20Z"
        );
    }
}
