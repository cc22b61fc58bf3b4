//! `ports`: TCP ports in LISTEN state, from `/proc/net/tcp` and `/proc/net/tcp6`.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `ports` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Ports {
        /// Listening TCP ports, sorted, distinct.
        pub listening: Vec<u16>,
    }
}

/// One TCP socket in LISTEN state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenRow {
    /// Local address.
    pub(crate) bind_address: String,
    /// Local port.
    pub(crate) port: u16,
    /// Socket inode (joins it to its process).
    pub(crate) inode: u64,
    /// IPv6 socket.
    pub(crate) v6: bool,
}

/// The LISTEN sockets, read once per run through [`Ctx::listen_rows`].
///
/// Asks the kernel over netlink `sock_diag` with a LISTEN filter, as `ss` does: the kernel
/// then walks only its listening hash, where reading `/proc/net/tcp` walks every
/// established-socket bucket too (about 5 ms a read here). `/proc/net/tcp{,6}` is the
/// fallback, and what a fixture root (tests) is read from.
pub(crate) fn read_listen_rows(ctx: &Ctx) -> Result<Vec<ListenRow>, TraitError> {
    if ctx.root() == std::path::Path::new("/")
        && let Ok(rows) = sock_diag::listeners()
    {
        return Ok(rows);
    }
    proc_listen_rows(ctx)
}

fn proc_listen_rows(ctx: &Ctx) -> Result<Vec<ListenRow>, TraitError> {
    let mut rows = Vec::new();
    let mut read_any = false;
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = ctx.read(file) else { continue };
        read_any = true;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            let Ok(port) = u16::from_str_radix(port, 16) else {
                continue;
            };
            rows.push(ListenRow {
                bind_address: super::listeners::decode_addr(addr, v6),
                port,
                inode: f[9].parse().unwrap_or(0),
                v6,
            });
        }
    }
    if !read_any {
        return Err(TraitError::malformed("/proc/net/tcp is not readable"));
    }
    Ok(rows)
}

/// A minimal netlink `sock_diag` client: TCP sockets in LISTEN state, IPv4 and IPv6.
///
/// Hand-written rather than through a netlink crate: it is one dump request and one
/// fixed-layout reply (`inet_diag_msg`), checked against `/proc/net/tcp` by a test (see
/// ARCHITECTURE.md). The socket is an [`OwnedFd`], closed on every path.
mod sock_diag {
    use std::io;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::ListenRow;

    const NETLINK_SOCK_DIAG: libc::c_int = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const TCP_LISTEN: u32 = 10;
    /// nlmsghdr (16) + inet_diag_req_v2 (56).
    const REQ_LEN: usize = 72;
    /// inet_diag_msg.
    const MSG_LEN: usize = 72;

    pub(super) fn listeners() -> io::Result<Vec<ListenRow>> {
        // SAFETY: a plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut rows = Vec::new();
        for (family, seq) in [(libc::AF_INET, 1u32), (libc::AF_INET6, 2u32)] {
            let mut req = [0u8; REQ_LEN];
            req[0..4].copy_from_slice(&(REQ_LEN as u32).to_ne_bytes());
            req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
            req[8..12].copy_from_slice(&seq.to_ne_bytes());
            req[16] = u8::try_from(family).unwrap_or(0);
            req[17] = u8::try_from(libc::IPPROTO_TCP).unwrap_or(6);
            req[20..24].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
            // SAFETY: `req` is a valid buffer of REQ_LEN bytes for the duration of the call.
            let sent = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), REQ_LEN, 0) };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut buf = vec![0u8; 32 * 1024];
            'recv: loop {
                // SAFETY: `buf` is a valid writable buffer of its length.
                let n =
                    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                let data = &buf[..usize::try_from(n).unwrap_or(0)];
                let mut off = 0;
                while off + 16 <= data.len() {
                    let len = u32::from_ne_bytes(data[off..off + 4].try_into().unwrap_or_default())
                        as usize;
                    let kind =
                        u16::from_ne_bytes(data[off + 4..off + 6].try_into().unwrap_or_default());
                    if len < 16 || off + len > data.len() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "truncated netlink message",
                        ));
                    }
                    match kind {
                        NLMSG_DONE => break 'recv,
                        NLMSG_ERROR => {
                            return Err(io::Error::other("sock_diag refused the request"));
                        }
                        _ if len >= 16 + MSG_LEN => {
                            rows.push(parse(&data[off + 16..off + 16 + MSG_LEN]));
                        }
                        _ => {}
                    }
                    off += (len + 3) & !3;
                }
                if data.is_empty() {
                    break;
                }
            }
        }
        Ok(rows)
    }

    /// One inet_diag_msg: family, state, …, sockid (sport, dport, src, dst, …), …, inode.
    fn parse(m: &[u8]) -> ListenRow {
        let v6 = i32::from(m[0]) == libc::AF_INET6;
        let port = u16::from_be_bytes([m[4], m[5]]);
        let bind_address = if v6 {
            let mut b = [0u8; 16];
            b.copy_from_slice(&m[8..24]);
            Ipv6Addr::from(b).to_string()
        } else {
            Ipv4Addr::new(m[8], m[9], m[10], m[11]).to_string()
        };
        let inode = u64::from(u32::from_ne_bytes(m[68..72].try_into().unwrap_or_default()));
        ListenRow {
            bind_address,
            port,
            inode,
            v6,
        }
    }
}

/// Collects `ports`.
pub fn collect(ctx: &Ctx) -> Result<Ports, TraitError> {
    let mut listening: Vec<u16> = ctx.listen_rows()?.iter().map(|r| r.port).collect();
    listening.sort_unstable();
    listening.dedup();
    Ok(Ports { listening })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlink_and_procfs_agree() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let key = |r: &ListenRow| (r.port, r.bind_address.clone(), r.inode, r.v6);
        let mut diag: Vec<_> = sock_diag::listeners()
            .expect("sock_diag works here")
            .iter()
            .map(key)
            .collect();
        let mut procfs: Vec<_> = proc_listen_rows(&Ctx::default())
            .unwrap()
            .iter()
            .map(key)
            .collect();
        diag.sort();
        procfs.sort();
        assert_eq!(diag, procfs);
        assert!(diag.iter().any(|r| r.0 == port && r.1 == "127.0.0.1"));
    }
}
