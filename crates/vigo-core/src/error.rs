//! Errors on one line: the one way the workspace prints an error with its causes (logs,
//! `_errors` of the traits, the audit), so a cause kept as a `#[source]` is never lost.

/// `outer: cause: cause of the cause …`; a cause whose text the line already holds (an
/// error that also prints its source) is not repeated.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading /etc/x")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("reading /etc/x: {0}")]
    struct Echoing(#[source] std::io::Error);

    #[test]
    fn causes_follow_once() {
        let io = || std::io::Error::other("no such file");
        assert_eq!(chain(&Outer(io())), "reading /etc/x: no such file");
        assert_eq!(chain(&Echoing(io())), "reading /etc/x: no such file");
    }
}
