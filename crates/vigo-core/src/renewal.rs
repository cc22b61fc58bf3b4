//! When a certificate is renewed: once no more than a third of its lifetime remains.
//!
//! One rule for both ends: the agent renews its client certificate by this rule at every
//! check-in, and the server reissues its own TLS certificate by it at start and on its
//! periodic check. Times are Unix seconds passed in by the caller, so tests move the
//! clock instead of waiting.
//!
//! ```
//! use vigo_core::renewal::{renew_at, renewal_due};
//!
//! let day = 86_400;
//! // A 365-day certificate is renewed from day 243⅓ on, when 121⅔ days remain.
//! assert_eq!(renew_at(0, 365 * day), 365 * day - 365 * day / 3);
//! assert!(!renewal_due(0, 365 * day, 200 * day));
//! assert!(renewal_due(0, 365 * day, 250 * day));
//! ```

/// The fraction of the lifetime that may remain before renewal: one third.
pub const RENEW_WHEN_REMAINING: (i64, i64) = (1, 3);

/// When renewal becomes due for a certificate valid from `not_before` to `not_after`:
/// the moment a third of its lifetime remains. A certificate whose dates are reversed
/// is due at once.
pub fn renew_at(not_before: i64, not_after: i64) -> i64 {
    if not_after <= not_before {
        return i64::MIN;
    }
    let lifetime = not_after.saturating_sub(not_before);
    let (num, den) = RENEW_WHEN_REMAINING;
    not_after.saturating_sub(lifetime / den * num)
}

/// True when a certificate valid from `not_before` to `not_after` should be renewed at
/// `now`: a third of its lifetime or less remains (an expired one included).
pub fn renewal_due(not_before: i64, not_after: i64, now: i64) -> bool {
    now >= renew_at(not_before, not_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn due_in_the_last_third_only() {
        let (from, to) = (1_000 * DAY, 1_365 * DAY);
        assert!(!renewal_due(from, to, from));
        assert!(!renewal_due(from, to, from + 243 * DAY));
        assert!(renewal_due(from, to, from + 244 * DAY));
        assert!(renewal_due(from, to, from + 250 * DAY));
        assert!(renewal_due(from, to, to + 1), "an expired one is due too");
    }

    #[test]
    fn odd_dates_do_not_overflow() {
        assert!(renewal_due(10, 5, 0), "reversed dates: due at once");
        assert_eq!(renew_at(i64::MIN, i64::MAX), i64::MAX - i64::MAX / 3);
        assert!(!renewal_due(0, i64::MAX, 0));
    }
}
