//! Who may hold a connection: one listener's budget ([`ListenerBudget`]), counted per
//! source and in all. A connection over either cap is closed at accept, before any TLS
//! work is spent on it. Sources are IPv4 addresses and IPv6 /64 prefixes (one host
//! usually holds a whole /64); an IPv4-mapped IPv6 address counts as its IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::ListenerBudget;

/// The key connections are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source of a peer address.
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(_) => Source(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Source(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The listener holds `max_connections`.
    Full,
    /// The source holds `max_per_source`.
    SourceFull,
}

impl Refused {
    /// The reason as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Full => "over_total",
            Refused::SourceFull => "over_source",
        }
    }
}

/// The connections one listener holds.
#[derive(Debug)]
pub struct Admission {
    budget: ListenerBudget,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    total: u32,
    per_source: HashMap<Source, u32>,
}

impl Admission {
    /// An empty listener with `budget`.
    pub fn new(budget: ListenerBudget) -> Arc<Self> {
        Arc::new(Admission {
            budget,
            held: Mutex::new(Held::default()),
        })
    }

    /// Takes a slot for a connection from `ip`, freed when the [`Slot`] is dropped.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let source = Source::of(ip);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.total >= self.budget.max_connections {
            return Err(Refused::Full);
        }
        let mine = held.per_source.entry(source).or_insert(0);
        if *mine >= self.budget.max_per_source {
            return Err(Refused::SourceFull);
        }
        *mine += 1;
        held.total += 1;
        Ok(Slot {
            admission: Arc::clone(self),
            source,
        })
    }

    /// Connections held now.
    pub fn held(&self) -> u32 {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One admitted connection's place in its listener's budget.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    source: Source,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self
            .admission
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.per_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                held.per_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_source_gets_its_share_and_all_together_the_total() {
        let a = Admission::new(ListenerBudget {
            max_connections: 5,
            max_per_source: 2,
        });
        let first: Vec<Slot> = (0..2).map(|_| a.admit(ip("10.0.0.1")).unwrap()).collect();
        assert_eq!(a.admit(ip("10.0.0.1")).unwrap_err(), Refused::SourceFull);
        let second: Vec<Slot> = (0..2).map(|_| a.admit(ip("10.0.0.2")).unwrap()).collect();
        let _fifth = a.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(a.admit(ip("10.0.0.4")).unwrap_err(), Refused::Full);
        assert_eq!(a.held(), 5);
        drop(first);
        assert_eq!(a.held(), 3);
        let _again = a.admit(ip("10.0.0.1")).unwrap();
        drop(second);
        assert_eq!(a.held(), 2);
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64_and_mapped_addresses_as_ipv4() {
        assert_eq!(
            Source::of(ip("2001:db8:1:2:aaaa::1")),
            Source::of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::of(ip("::ffff:10.1.2.3")),
            Source::of(ip("10.1.2.3"))
        );
    }
}
