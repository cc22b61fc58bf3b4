//! Loopback ports for tests that cannot race: a port is never chosen, closed and bound
//! again, where another process could take it in between. [`Listeners`] are sockets
//! already listening, handed to the server under test (socket activation, see
//! [`crate::Vigosrv`]); a [`RefusedPort`] is bound and never listened on, so a client
//! dialling it is refused, and nothing else can take it while it is held.

use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::Error;

/// The two listening sockets a server inherits (REST, gRPC), bound by the test.
#[derive(Debug)]
pub struct Listeners {
    api: TcpListener,
    grpc: TcpListener,
}

impl Listeners {
    /// Two sockets listening on `127.0.0.1`, on ports the kernel chose.
    pub fn loopback() -> Result<Listeners, Error> {
        let bind = || TcpListener::bind("127.0.0.1:0").map_err(Error::io("binding", "127.0.0.1:0"));
        Ok(Listeners {
            api: bind()?,
            grpc: bind()?,
        })
    }

    /// The same two ports on `127.0.0.1` again, for a server restarted after
    /// [`Vigosrv::stop`] (its clients remember the ports). Between the stop and this
    /// call the ports are free: an error says so if another process took one.
    pub fn rebind(api_port: u16, grpc_port: u16) -> Result<Listeners, Error> {
        let bind = |port: u16| {
            let addr = format!("127.0.0.1:{port}");
            TcpListener::bind(&addr).map_err(Error::io("binding again", addr))
        };
        Ok(Listeners {
            api: bind(api_port)?,
            grpc: bind(grpc_port)?,
        })
    }

    /// The REST port.
    pub fn api_port(&self) -> u16 {
        port(&self.api)
    }

    /// The gRPC port.
    pub fn grpc_port(&self) -> u16 {
        port(&self.grpc)
    }

    /// The raw descriptors (REST, gRPC), to hand to a child process.
    pub(crate) fn raw_fds(&self) -> [RawFd; 2] {
        [self.api.as_raw_fd(), self.grpc.as_raw_fd()]
    }

    /// The two `server:` lines of `server.yaml` naming these sockets (two spaces in):
    /// `grpc_listen: "127.0.0.1:G"` and `api_listen: "127.0.0.1:A"`.
    pub fn yaml(&self) -> String {
        format!(
            "  grpc_listen: \"127.0.0.1:{}\"\n  api_listen: \"127.0.0.1:{}\"\n",
            self.grpc_port(),
            self.api_port()
        )
    }
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().map_or(0, |a| a.port())
}

/// A loopback TCP port that refuses connections while held (bound, never listening),
/// for "nothing answers there" tests.
#[derive(Debug)]
pub struct RefusedPort {
    _socket: OwnedFd,
    port: u16,
}

impl RefusedPort {
    /// Binds a TCP socket to `127.0.0.1:0` without listening on it.
    pub fn new() -> Result<RefusedPort, Error> {
        let err = |e| Error::io("binding without listening", "127.0.0.1:0")(e);
        // SAFETY: plain socket(2); the descriptor is owned at once below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(err(std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_in>())
            .map_err(|e| err(std::io::Error::other(e)))?;
        // SAFETY: `addr` is a valid sockaddr_in of `len` bytes.
        if unsafe { libc::bind(socket.as_raw_fd(), (&raw const addr).cast(), len) } != 0 {
            return Err(err(std::io::Error::last_os_error()));
        }
        // SAFETY: getsockname writes at most `len` bytes into `addr`.
        if unsafe { libc::getsockname(socket.as_raw_fd(), (&raw mut addr).cast(), &raw mut len) }
            != 0
        {
            return Err(err(std::io::Error::last_os_error()));
        }
        Ok(RefusedPort {
            _socket: socket,
            port: u16::from_be(addr.sin_port),
        })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_port_refuses_and_listeners_accept() {
        let refused = RefusedPort::new().unwrap();
        let e = std::net::TcpStream::connect(("127.0.0.1", refused.port())).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        let l = Listeners::loopback().unwrap();
        assert_ne!(l.api_port(), l.grpc_port());
        std::net::TcpStream::connect(("127.0.0.1", l.grpc_port())).unwrap();
        assert_eq!(
            l.yaml(),
            format!(
                "  grpc_listen: \"127.0.0.1:{}\"\n  api_listen: \"127.0.0.1:{}\"\n",
                l.grpc_port(),
                l.api_port()
            )
        );
    }
}
