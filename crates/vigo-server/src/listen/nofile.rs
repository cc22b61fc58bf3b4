//! The open-file limit: every connection is a file descriptor, and the usual soft limit
//! (1024) is what about a thousand idle connections used to exhaust, stopping every
//! accept. At start the soft limit is raised to the hard one ([`raise`]), and the
//! listeners' connection budgets are fitted under it ([`fit`]) with [`RESERVED`]
//! descriptors kept for the database, logs and files, so neither listener can run the
//! process out of descriptors.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::config::ListenerBudget;

/// Descriptors kept for everything but connections.
pub const RESERVED: u64 = 256;

/// The open-file limit before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now.
    pub now: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (or to the kernel's `nr_open` when
/// the hard limit is unlimited).
pub fn raise() -> nix::Result<OpenFiles> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let target = if hard == nix::sys::resource::RLIM_INFINITY {
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1 << 20)
    } else {
        hard
    };
    if soft < target {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard)?;
    }
    let (now, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(OpenFiles { before: soft, now })
}

/// The budgets lowered, in proportion, so that both listeners' connections together
/// stay [`RESERVED`] descriptors under `limit`; unchanged when they already do.
pub fn fit(
    limit: u64,
    grpc: ListenerBudget,
    api: ListenerBudget,
) -> (ListenerBudget, ListenerBudget) {
    let wanted = u64::from(grpc.max_connections) + u64::from(api.max_connections);
    let available = limit.saturating_sub(RESERVED).max(2);
    if wanted <= available {
        return (grpc, api);
    }
    let g = (available * u64::from(grpc.max_connections) / wanted).max(1);
    let a = available.saturating_sub(g).max(1);
    let shrink = |b: ListenerBudget, to: u64| {
        let max = u32::try_from(to).unwrap_or(u32::MAX).min(b.max_connections);
        ListenerBudget {
            max_connections: max,
            max_per_source: b.max_per_source.min(max),
        }
    };
    (shrink(grpc, g), shrink(api, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRPC: ListenerBudget = ListenerBudget {
        max_connections: 16_384,
        max_per_source: 512,
    };
    const API: ListenerBudget = ListenerBudget {
        max_connections: 1024,
        max_per_source: 64,
    };

    #[test]
    fn budgets_under_the_limit_are_kept() {
        assert_eq!(fit(1 << 20, GRPC, API), (GRPC, API));
    }

    #[test]
    fn budgets_over_the_limit_shrink_in_proportion_leaving_the_reserve() {
        let (g, a) = fit(4096, GRPC, API);
        let total = u64::from(g.max_connections) + u64::from(a.max_connections);
        assert_eq!(total, 4096 - RESERVED);
        assert!(g.max_connections > a.max_connections);
        assert!(a.max_connections >= 200, "REST keeps its share: {a:?}");
        assert_eq!(g.max_per_source, 512);
        let (g, a) = fit(300, GRPC, API);
        assert!(g.max_per_source <= g.max_connections);
        assert!(a.max_per_source <= a.max_connections && a.max_connections >= 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let files = raise().unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(files.now, soft);
        assert!(soft == hard || hard == nix::sys::resource::RLIM_INFINITY);
        assert!(files.now >= files.before);
    }
}
