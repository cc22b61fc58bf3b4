//! `ports`: TCP ports in LISTEN state, from `/proc/net/tcp` and `/proc/net/tcp6`.

use serde::Serialize;

use crate::ctx::{Ctx, TraitError};

/// The `ports` trait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// Listening TCP ports, sorted, distinct.
    pub listening: Vec<u16>,
}

/// One LISTEN row: local address (hex), port, socket inode, IPv6.
pub(crate) struct ListenRow {
    pub(crate) addr_hex: String,
    pub(crate) port: u16,
    pub(crate) inode: u64,
    pub(crate) v6: bool,
}

/// The LISTEN rows of `/proc/net/tcp{,6}`.
pub(crate) fn listen_rows(ctx: &Ctx) -> Result<Vec<ListenRow>, TraitError> {
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
                addr_hex: addr.to_owned(),
                port,
                inode: f[9].parse().unwrap_or(0),
                v6,
            });
        }
    }
    if !read_any {
        return Err(TraitError::new("/proc/net/tcp is not readable"));
    }
    Ok(rows)
}

/// Collects `ports`.
pub fn collect(ctx: &Ctx) -> Result<Ports, TraitError> {
    let mut listening: Vec<u16> = listen_rows(ctx)?.into_iter().map(|r| r.port).collect();
    listening.sort_unstable();
    listening.dedup();
    Ok(Ports { listening })
}
