//! `network`: hostname, FQDN, addresses and interfaces.
//!
//! Addresses come from `getifaddrs` (loopback and IPv6 link-local skipped), MACs from
//! `/sys/class/net/*/address`. The primary IPv4 is the source address the kernel picks for
//! a UDP "connection" to a public address — a route lookup only: no packet is sent. The FQDN
//! is the first dotted name of the hostname's `/etc/hosts` line (no DNS query: it could
//! stall the agent for seconds on a broken resolver).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One interface.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Interface {
        /// MAC address, when it has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub mac: Option<String>,
        /// MTU.
        pub mtu: u32,
        /// `operstate` (`up`, `down`, `unknown`).
        pub state: String,
        /// Addresses in CIDR form.
        pub addresses: Vec<String>,
    }
}

crate::trait_struct! {
    /// The `network` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Network {
        /// The hostname.
        pub hostname: String,
        /// The fully qualified name, from the hostname's `/etc/hosts` line (no DNS query;
        /// the hostname when none is known).
        pub fqdn: String,
        /// The primary IPv4 address: the route's source address, no packet sent (empty
        /// without a route).
        pub primary_ip: String,
        /// Non-loopback IPv4 and IPv6 addresses (no link-local).
        pub ip_addresses: Vec<String>,
        /// Non-loopback, non-zero MAC addresses.
        pub mac_addresses: Vec<String>,
        /// Interfaces by name.
        pub interfaces: BTreeMap<String, Interface>,
    }
}

fn primary_ipv4() -> Option<IpAddr> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // connect() on UDP only selects a route and a source address; nothing is sent.
    sock.connect("8.8.8.8:80").ok()?;
    sock.local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

fn fqdn_from_hosts(hosts: &str, hostname: &str) -> Option<String> {
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .find_map(|l| {
            let names: Vec<&str> = l.split_whitespace().skip(1).collect();
            names
                .contains(&hostname)
                .then(|| {
                    names
                        .iter()
                        .find(|n| n.contains('.'))
                        .map(|n| (*n).to_owned())
                })
                .flatten()
        })
}

/// Collects `network`.
pub fn collect(ctx: &Ctx) -> Result<Network, TraitError> {
    let hostname = ctx
        .read_opt("/proc/sys/kernel/hostname")
        .or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .map(|h| h.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let fqdn = ctx
        .read_opt("/etc/hosts")
        .and_then(|h| fqdn_from_hosts(&h, &hostname))
        .unwrap_or_else(|| hostname.clone());
    let mut interfaces: BTreeMap<String, Interface> = BTreeMap::new();
    let mut ips = Vec::new();
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| TraitError::system("listing the interfaces (getifaddrs)", e))?;
    for a in addrs {
        let name = a.interface_name.clone();
        let entry = interfaces.entry(name.clone()).or_insert_with(|| Interface {
            mac: ctx
                .read_opt(&format!("/sys/class/net/{name}/address"))
                .filter(|m| m != "00:00:00:00:00:00"),
            mtu: ctx
                .read_opt(&format!("/sys/class/net/{name}/mtu"))
                .and_then(|m| m.parse().ok())
                .unwrap_or(0),
            state: ctx
                .read_opt(&format!("/sys/class/net/{name}/operstate"))
                .unwrap_or_default(),
            addresses: Vec::new(),
        });
        let Some(addr) = a.address else { continue };
        let prefix = |mask: Option<IpAddr>| match mask {
            Some(IpAddr::V4(m)) => u32::from(m).count_ones(),
            Some(IpAddr::V6(m)) => u128::from(m).count_ones(),
            None => 0,
        };
        let ip: Option<IpAddr> = addr
            .as_sockaddr_in()
            .map(|s| IpAddr::V4(s.ip()))
            .or_else(|| addr.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())));
        let Some(ip) = ip else { continue };
        let mask: Option<IpAddr> = a.netmask.as_ref().and_then(|m| {
            m.as_sockaddr_in()
                .map(|s| IpAddr::V4(s.ip()))
                .or_else(|| m.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
        });
        entry.addresses.push(format!("{ip}/{}", prefix(mask)));
        let link_local = match ip {
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
            IpAddr::V4(v4) => v4.is_link_local(),
        };
        if !ip.is_loopback() && !link_local {
            ips.push(ip.to_string());
        }
    }
    ips.sort();
    ips.dedup();
    let mut macs: Vec<String> = interfaces
        .iter()
        .filter(|(n, _)| n.as_str() != "lo")
        .filter_map(|(_, i)| i.mac.clone())
        .collect();
    macs.sort();
    macs.dedup();
    let primary_ip = primary_ipv4()
        .map(|ip| ip.to_string())
        .or_else(|| ips.iter().find(|ip| !ip.contains(':')).cloned())
        .unwrap_or_default();
    Ok(Network {
        hostname,
        fqdn,
        primary_ip,
        ip_addresses: ips,
        mac_addresses: macs,
        interfaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_from_etc_hosts() {
        let hosts = "127.0.0.1 localhost\n10.0.0.5 web01.example.com web01 # primary\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "web01").as_deref(),
            Some("web01.example.com")
        );
        assert_eq!(fqdn_from_hosts(hosts, "db01"), None);
    }
}
