//! `vigocli secrets`: store, list and delete secrets. A value is read from stdin —
//! without echo when stdin is a terminal — and is never printed.

use std::io::{IsTerminal, Read};

use serde::Serialize;
use vigo_api::routes;

use super::Context;
use crate::CliError;
use crate::cli::SecretsCmd;
use crate::client::Body;
use crate::output::{self, table};

/// What `vigocli secrets set --json` prints (the server answers 204).
#[derive(Debug, Serialize)]
struct Stored<'a> {
    /// The secret's path.
    path: &'a str,
    /// Always true.
    stored: bool,
}

/// What `vigocli secrets delete --json` prints (the server answers 204).
#[derive(Debug, Serialize)]
struct Deleted<'a> {
    /// The secret's path.
    path: &'a str,
    /// Always true.
    deleted: bool,
}

/// `vigocli secrets …`
pub fn run(ctx: &Context, cmd: SecretsCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        SecretsCmd::Set { path } => {
            let value = read_value(&path)?;
            client.call(
                routes::SECRET_SET,
                &[&path],
                &(),
                Some(Body::Raw(value.into_bytes())),
            )?;
            let done = Stored {
                path: &path,
                stored: true,
            };
            ctx.show(&done, |_| {
                println!("secret {path:?} stored");
            });
        }
        SecretsCmd::List => {
            let list: Vec<String> = client.get_all(routes::SECRETS, &())?;
            ctx.show(&list, |list| {
                let mut t = table(&["SECRET"]);
                for p in list {
                    t.add_row([p]);
                }
                output::print_table(&t, "no secrets");
            });
        }
        SecretsCmd::Delete { path } => {
            client.call(routes::SECRET_DELETE, &[&path], &(), None)?;
            let done = Deleted {
                path: &path,
                deleted: true,
            };
            ctx.show(&done, |_| {
                println!("secret {path:?} deleted");
            });
        }
    }
    Ok(())
}

/// The value: one line typed without echo on a terminal, else all of stdin less one
/// trailing newline (so `echo pw | vigocli secrets set db/password` stores `pw`).
fn read_value(path: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    let io = |source| CliError::Io {
        path: "stdin".into(),
        source,
    };
    let mut value = if stdin.is_terminal() {
        eprint!("Value for {path} (not echoed): ");
        let line = read_line_without_echo().map_err(io)?;
        eprintln!();
        line
    } else {
        let mut s = String::new();
        stdin.lock().read_to_string(&mut s).map_err(io)?;
        s
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        return Err(CliError::BadArgument {
            message: "the secret value is empty".into(),
            hint: "pipe the value on stdin: printf %s \"$VALUE\" | vigocli secrets set PATH".into(),
        });
    }
    Ok(value)
}

/// Reads a line from the terminal on stdin with echo off, restoring the mode after.
fn read_line_without_echo() -> std::io::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    let restored = tcsetattr(&stdin, SetArg::TCSANOW, &saved).map_err(std::io::Error::from);
    read?;
    restored?;
    Ok(line)
}
