//! `vigocli completions` and `vigocli man`: shell completions and man pages generated
//! from the clap definitions in [`crate::cli`].

use std::path::Path;

use clap::CommandFactory;

use crate::CliError;
use crate::cli::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "vigocli", &mut std::io::stdout());
}

/// Writes `vigocli.1` and `vigocli-GROUP[-SUB].1` for every subcommand into `dir`.
pub fn man(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let cmd = Cli::command();
    let mut written = 0usize;
    write_pages(&cmd, "vigocli", dir, &mut written)?;
    eprintln!("wrote {written} man pages to {}", dir.display());
    Ok(())
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut usize,
) -> Result<(), CliError> {
    // clap names are `&'static str` without its `string` feature; a few short names
    // leak once per `vigocli man` run.
    let cmd = cmd.clone().name(name.to_owned().leak() as &str);
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    let io = |source| CliError::Io {
        path: path.clone(),
        source,
    };
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(io)?;
    std::fs::write(&path, buf).map_err(io)?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
