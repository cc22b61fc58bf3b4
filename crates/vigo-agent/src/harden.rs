//! Process hardening, applied first thing in every agent process that may hold secrets:
//! no core dumps (`RLIMIT_CORE = 0`) and not dumpable (`PR_SET_DUMPABLE = 0`, which also
//! blocks ptrace and `/proc/<pid>/mem` for other unprivileged processes).
//!
//! Best effort by design (spec: "failure logged, always on"): a failure is returned so
//! the caller can log it, and the agent keeps running. `mlockall` is deliberately not
//! used; swap is the operator's to disable or encrypt.

/// What could not be hardened.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// `setrlimit(RLIMIT_CORE, 0)` failed.
    #[error("disabling core dumps: {0}")]
    CoreLimit(std::io::Error),
    /// `prctl(PR_SET_DUMPABLE, 0)` failed.
    #[error("marking the process non-dumpable: {0}")]
    Dumpable(std::io::Error),
}

/// Disables core dumps and marks the process non-dumpable.
pub fn harden_process() -> Result<(), HardenError> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid, initialised rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        return Err(HardenError::CoreLimit(std::io::Error::last_os_error()));
    }
    // SAFETY: PR_SET_DUMPABLE takes one integer argument; the rest are ignored.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(HardenError::Dumpable(std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_is_not_dumpable_and_has_no_core_limit() {
        harden_process().unwrap();
        // SAFETY: PR_GET_DUMPABLE takes no argument and returns the flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
        let mut lim = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: getrlimit writes into a valid rlimit struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut lim) }, 0);
        assert_eq!((lim.rlim_cur, lim.rlim_max), (0, 0));
    }
}
