//! The one "did you mean" of the workspace: every misspelt key, type, trait, variable or
//! setting is matched against its candidates with the same distance and threshold.
//!
//! The distance is Damerau–Levenshtein (a swapped pair of letters counts once), and how
//! far a candidate may be grows with the length of what was written: one edit for up to
//! three characters, two for up to seven, three beyond. Short words need a close match or
//! every two-letter typo would "mean" something.

/// The candidate closest to `given`, when one is close enough (never `given` itself).
/// Ties go to the candidate that sorts first, so the answer does not depend on order.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = match given.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != given)
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate, when one is close enough.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(given, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_grows_with_length() {
        assert_eq!(
            closest("mdoe", ["mode", "owner"]),
            Some("mode"),
            "a swap is one edit"
        );
        assert_eq!(closest("xyz", ["mode", "owner"]), None);
        assert_eq!(closest("ngnix", ["nginx", "ntp"]), Some("nginx"));
        assert_eq!(
            closest("ab", ["xy"]),
            None,
            "two edits on a short word is no match"
        );
        assert_eq!(closest("interval_secs", ["interval"]), None);
        assert_eq!(closest("intervl", ["interval"]), Some("interval"));
        assert_eq!(closest("state", ["state"]), None, "never itself");
    }

    #[test]
    fn ties_are_stable() {
        assert_eq!(closest("cat", ["bat", "car"]), Some("bat"));
        assert_eq!(closest("cat", ["car", "bat"]), Some("bat"));
    }

    #[test]
    fn the_hint_names_the_candidate() {
        assert_eq!(
            did_you_mean("grup", ["group", "owner"]).as_deref(),
            Some("did you mean `group`?")
        );
    }
}
