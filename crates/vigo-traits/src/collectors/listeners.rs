//! `listeners`: TCP listening sockets with their owning processes, joined by one walk of
//! `/proc/*/fd` for `socket:[inode]` links (stopping as soon as every socket is matched).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One listening socket.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Listener {
        /// Port.
        pub port: u16,
        /// `ipv4` or `ipv6`.
        pub family: String,
        /// Always `tcp`.
        pub protocol: String,
        /// Local address.
        pub bind_address: String,
        /// Owning process, when visible.
        pub pid: Option<u32>,
        /// Its command name.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub comm: Option<String>,
        /// Its executable.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub exe: Option<String>,
    }
}

crate::trait_struct! {
    /// The `listeners` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Listeners {
        /// Listening sockets, by port.
        pub listeners: Vec<Listener>,
    }
}

/// Decodes `/proc/net/tcp` hex addresses (little-endian 32-bit words).
pub fn decode_addr(hex: &str, v6: bool) -> String {
    let words: Vec<u32> = hex
        .as_bytes()
        .chunks(8)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .filter_map(|c| u32::from_str_radix(c, 16).ok())
        .map(u32::from_be)
        .collect();
    if v6 && words.len() == 4 {
        let mut b = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
        }
        Ipv6Addr::from(b).to_string()
    } else if let Some(w) = words.first() {
        Ipv4Addr::from(w.to_be_bytes()).to_string()
    } else {
        hex.to_owned()
    }
}

/// Collects `listeners`.
pub fn collect(ctx: &Ctx) -> Result<Listeners, TraitError> {
    let rows = ctx.listen_rows()?;
    let mut owners: HashMap<u64, u32> = HashMap::new();
    let wanted: std::collections::HashSet<u64> =
        rows.iter().map(|r| r.inode).filter(|i| *i != 0).collect();
    if let Ok(procs) = std::fs::read_dir(ctx.path("/proc")) {
        'walk: for p in procs.filter_map(Result::ok) {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            for fd in fds.filter_map(Result::ok) {
                let Ok(target) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                let t = target.to_string_lossy();
                if let Some(inode) = t
                    .strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|i| i.parse::<u64>().ok())
                    && wanted.contains(&inode)
                {
                    owners.entry(inode).or_insert(pid);
                    if owners.len() == wanted.len() {
                        break 'walk;
                    }
                }
            }
        }
    }
    let mut listeners: Vec<Listener> = rows
        .iter()
        .map(|r| {
            let pid = owners.get(&r.inode).copied();
            Listener {
                port: r.port,
                family: if r.v6 { "ipv6" } else { "ipv4" }.to_owned(),
                protocol: "tcp".to_owned(),
                bind_address: r.bind_address.clone(),
                pid,
                comm: pid.and_then(|p| ctx.read_opt(&format!("/proc/{p}/comm"))),
                exe: pid
                    .and_then(|p| std::fs::read_link(ctx.path(&format!("/proc/{p}/exe"))).ok())
                    .map(|e| e.to_string_lossy().into_owned()),
            }
        })
        .collect();
    listeners.sort_by(|a, b| {
        (a.port, &a.family, &a.bind_address).cmp(&(b.port, &b.family, &b.bind_address))
    });
    Ok(Listeners { listeners })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kernel_addresses() {
        assert_eq!(decode_addr("0100007F", false), "127.0.0.1");
        assert_eq!(decode_addr("00000000", false), "0.0.0.0");
        assert_eq!(decode_addr("00000000000000000000000001000000", true), "::1");
    }
}
