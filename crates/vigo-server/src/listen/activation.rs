//! Listening sockets handed to the server instead of bound by it: [`Listeners`].
//!
//! Two ways in:
//! - **socket activation** ([`Listeners::from_env`], what `vigosrv serve` does): the
//!   service manager (systemd's `.socket` units, `systemd-socket-activate`) or a test
//!   harness binds the sockets and starts `vigosrv` with them, following
//!   `sd_listen_fds(3)`: the descriptors from 3 on, `LISTEN_FDS` of them, for the process
//!   `LISTEN_PID`, named by `LISTEN_FDNAMES` (`FileDescriptorName=` in the unit). The
//!   names are `api` (REST) and `grpc`; a listener not passed is bound from
//!   `server.api_listen` / `server.grpc_listen` as usual;
//! - **in-process**: a test binds `127.0.0.1:0` itself and passes the
//!   [`std::net::TcpListener`] to [`crate::serve::start_with`], so no other process can
//!   take the port between choosing and listening.
//!
//! An inherited socket's port must equal the configured one: agents are told the
//! configured `server.grpc_listen` port, and the two must not disagree.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor a service manager passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;
/// The `LISTEN_FDNAMES` name of the REST socket.
pub const API_NAME: &str = "api";
/// The `LISTEN_FDNAMES` name of the gRPC socket.
pub const GRPC_NAME: &str = "grpc";
/// Most descriptors taken from `LISTEN_FDS` (the server needs two).
const MAX_FDS: usize = 16;

/// Set once the inherited descriptors were taken: they are owned once per process.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Sockets already listening, used instead of binding the configured addresses.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The REST socket (instead of `server.api_listen`).
    pub api: Option<TcpListener>,
    /// The gRPC socket (instead of `server.grpc_listen`).
    pub grpc: Option<TcpListener>,
}

/// Why the inherited sockets cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// `LISTEN_FDS`, `LISTEN_PID` or `LISTEN_FDNAMES` is not what `sd_listen_fds(3)` says.
    #[error("socket activation: {0} (see docs/server.md, \"Socket activation\")")]
    Environment(String),
    /// A passed descriptor is not a listening TCP socket.
    #[error(
        "socket activation: descriptor {fd} ({name:?}) is not a listening TCP socket: {source}"
    )]
    NotListening {
        /// The descriptor.
        fd: RawFd,
        /// Its `LISTEN_FDNAMES` name.
        name: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An inherited socket listens on another port than the configuration names.
    #[error(
        "socket activation: the {name:?} socket listens on {actual} but server.{key} is \
         {configured}: make them equal (agents are told the configured port)"
    )]
    PortMismatch {
        /// The socket's name.
        name: &'static str,
        /// The configuration key.
        key: &'static str,
        /// Where the socket listens.
        actual: SocketAddr,
        /// What the configuration says.
        configured: SocketAddr,
    },
}

impl Listeners {
    /// The sockets passed to this process by socket activation; none when `LISTEN_PID`
    /// is unset or names another process (the variables were meant for a parent).
    pub fn from_env() -> Result<Listeners, ActivationError> {
        let var = |name: &str| std::env::var(name).ok();
        Listeners::from_vars(
            var("LISTEN_PID").as_deref(),
            var("LISTEN_FDS").as_deref(),
            var("LISTEN_FDNAMES").as_deref(),
            std::process::id(),
        )
    }

    fn from_vars(
        pid: Option<&str>,
        fds: Option<&str>,
        names: Option<&str>,
        own_pid: u32,
    ) -> Result<Listeners, ActivationError> {
        let named = match parse(pid, fds, names, own_pid)? {
            Some(named) => named,
            None => return Ok(Listeners::default()),
        };
        if TAKEN.swap(true, Ordering::SeqCst) {
            return Err(ActivationError::Environment(
                "the passed sockets were already taken by this process".to_owned(),
            ));
        }
        let mut out = Listeners::default();
        for (fd, name) in named {
            // SAFETY: sd_listen_fds(3): the descriptors from LISTEN_FDS_START on were
            // passed to this process (LISTEN_PID checked) and nothing else in it uses
            // them; TAKEN makes this the only place that takes ownership, once.
            let listener = unsafe { TcpListener::from_raw_fd(fd) };
            check_listening(&listener).map_err(|source| ActivationError::NotListening {
                fd,
                name: name.clone(),
                source,
            })?;
            match name.as_str() {
                API_NAME => out.api = Some(listener),
                GRPC_NAME => out.grpc = Some(listener),
                // Validated by `parse`.
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The (descriptor, name) pairs the variables describe, `None` when they are not ours.
fn parse(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    own_pid: u32,
) -> Result<Option<Vec<(RawFd, String)>>, ActivationError> {
    let Some(pid) = pid else { return Ok(None) };
    let pid: u32 = pid.trim().parse().map_err(|_| {
        ActivationError::Environment(format!("LISTEN_PID={pid:?} is not a process id"))
    })?;
    if pid != own_pid {
        return Ok(None);
    }
    let count: usize = fds
        .ok_or_else(|| ActivationError::Environment("LISTEN_PID without LISTEN_FDS".to_owned()))?
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= MAX_FDS)
        .ok_or_else(|| {
            ActivationError::Environment(format!(
                "LISTEN_FDS must be a number of descriptors from 0 to {MAX_FDS}"
            ))
        })?;
    let names: Vec<&str> = names.unwrap_or("").split(':').collect();
    if count == 0 {
        return Ok(Some(Vec::new()));
    }
    if names.len() != count {
        return Err(ActivationError::Environment(format!(
            "LISTEN_FDNAMES must name each of the {count} descriptors ({API_NAME:?} or \
             {GRPC_NAME:?}, separated by ':'); set FileDescriptorName= in the socket unit"
        )));
    }
    let mut out = Vec::with_capacity(count);
    for (i, name) in names.into_iter().enumerate() {
        if name != API_NAME && name != GRPC_NAME {
            return Err(ActivationError::Environment(format!(
                "descriptor {} is named {name:?}: expected {API_NAME:?} or {GRPC_NAME:?}",
                LISTEN_FDS_START + i as RawFd
            )));
        }
        if out.iter().any(|(_, n): &(RawFd, String)| n == name) {
            return Err(ActivationError::Environment(format!(
                "{name:?} is passed twice in LISTEN_FDNAMES"
            )));
        }
        out.push((LISTEN_FDS_START + i as RawFd, name.to_owned()));
    }
    Ok(Some(out))
}

/// A listening TCP socket: it has an address, accepts connections, and no child
/// process inherits it (close-on-exec, as the standard library's own sockets).
fn check_listening(listener: &TcpListener) -> std::io::Result<()> {
    listener.local_addr()?;
    let fd = listener.as_raw_fd();
    let mut accepting: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(std::io::Error::other)?;
    // SAFETY: `fd` is open (owned by `listener`); the out pointers are valid for the
    // sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut accepting).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if accepting == 0 {
        return Err(std::io::Error::other(
            "it was bound but listen() was not called",
        ));
    }
    // SAFETY: plain fcntl on an open descriptor.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Gives a handed socket the accept queue of the server's own ([`super::LISTEN_BACKLOG`]):
/// `listen(2)` again on a listening socket only changes its backlog, so a socket bound
/// by a test (the standard library's 128) or a unit's `Backlog=` behaves as one bound by
/// the server.
pub(crate) fn set_backlog(listener: &TcpListener) -> std::io::Result<()> {
    let backlog = libc::c_int::try_from(super::LISTEN_BACKLOG).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) on a descriptor `listener` owns.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Checks that an inherited socket listens on the port of `configured` (`key`).
pub(crate) fn check_port(
    listener: &TcpListener,
    name: &'static str,
    key: &'static str,
    configured: SocketAddr,
) -> Result<(), ActivationError> {
    let actual = listener
        .local_addr()
        .map_err(|source| ActivationError::NotListening {
            fd: listener.as_raw_fd(),
            name: name.to_owned(),
            source,
        })?;
    if configured.port() != actual.port() {
        return Err(ActivationError::PortMismatch {
            name,
            key,
            actual,
            configured,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_for_another_process_or_none_are_not_ours() {
        assert!(
            parse(None, Some("2"), Some("api:grpc"), 7)
                .unwrap()
                .is_none()
        );
        assert!(
            parse(Some("8"), Some("2"), Some("api:grpc"), 7)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn named_descriptors_start_at_three() {
        let got = parse(Some("7"), Some("2"), Some("grpc:api"), 7)
            .unwrap()
            .unwrap();
        assert_eq!(got, vec![(3, "grpc".to_owned()), (4, "api".to_owned())]);
        assert_eq!(parse(Some("7"), Some("0"), None, 7).unwrap(), Some(vec![]));
    }

    #[test]
    fn bad_variables_say_what_is_expected() {
        let err = |pid, fds, names| parse(Some(pid), fds, names, 7).unwrap_err().to_string();
        insta::assert_snapshot!(
            [
                err("x", Some("1"), Some("api")),
                err("7", None, None),
                err("7", Some("-1"), None),
                err("7", Some("999999"), None),
                err("7", Some("2"), Some("api")),
                err("7", Some("1"), Some("web")),
                err("7", Some("2"), Some("api:api")),
            ]
            .join("\n")
        );
    }
}
