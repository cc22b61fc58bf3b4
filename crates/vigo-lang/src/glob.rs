//! Hostname patterns of `match:` blocks: shell-style globs (`*` any run of characters,
//! dots included; `?` one character; `[abc]`, `[a-z]`, `[!a-z]` one character of a set).
//! Matching is case-insensitive, as hostnames are. Patterns are compiled once at load;
//! matching an ASCII hostname (every valid one) allocates nothing.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    Any,
    AnyRun,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled hostname pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

/// A malformed pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

impl Pattern {
    /// Compiles `text`.
    pub fn new(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError("an empty pattern matches nothing".into()));
        }
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                }
                '?' => tokens.push(Token::Any),
                '[' => {
                    let negated = chars.next_if(|c| *c == '!' || *c == '^').is_some();
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        if c == ']' && !ranges.is_empty() {
                            closed = true;
                            break;
                        }
                        let lo = c.to_ascii_lowercase();
                        if chars.peek() == Some(&'-') {
                            chars.next();
                            match chars.next() {
                                Some(']') => {
                                    ranges.push((lo, lo));
                                    ranges.push(('-', '-'));
                                    closed = true;
                                    break;
                                }
                                Some(hi) => ranges.push((lo, hi.to_ascii_lowercase())),
                                None => break,
                            }
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    if !closed {
                        return Err(PatternError(format!("unclosed `[` in pattern \"{text}\"")));
                    }
                    tokens.push(Token::Set { negated, ranges });
                }
                c => tokens.push(Token::Lit(c.to_ascii_lowercase())),
            }
        }
        Ok(Pattern {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `hostname` matches (case-insensitively).
    pub fn matches(&self, hostname: &str) -> bool {
        if hostname.is_ascii() {
            let b = hostname.as_bytes();
            matches_from(&self.tokens, b.len(), |i| char::from(b[i]))
        } else {
            let chars: Vec<char> = hostname.chars().collect();
            matches_from(&self.tokens, chars.len(), |i| chars[i])
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn one(token: &Token, c: char) -> bool {
    let c = c.to_ascii_lowercase();
    match token {
        Token::Lit(l) => *l == c,
        Token::Any => true,
        // A run is handled by the matcher loop, never compared to one character.
        Token::AnyRun => false,
        Token::Set { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
}

/// Iterative glob matching with one backtrack point (the last `*`): linear in practice,
/// never exponential.
fn matches_from(tokens: &[Token], len: usize, at: impl Fn(usize) -> char) -> bool {
    let (mut t, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < len {
        match tokens.get(t) {
            Some(Token::AnyRun) => {
                star = Some((t, s));
                t += 1;
            }
            Some(tok) if one(tok, at(s)) => {
                t += 1;
                s += 1;
            }
            _ => match star {
                Some((st, ss)) => {
                    t = st + 1;
                    s = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|tok| *tok == Token::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, h: &str) -> bool {
        Pattern::new(p).unwrap().matches(h)
    }

    #[test]
    fn globs() {
        assert!(m("*", "anything.example.net"));
        assert!(m("web-*.prod.example.net", "web-01.prod.example.net"));
        assert!(m("web-*.prod.example.net", "WEB-01.Prod.example.net"));
        assert!(!m("web-*.prod.example.net", "web-01.stage.example.net"));
        assert!(m("db?.example.net", "db1.example.net"));
        assert!(!m("db?.example.net", "db10.example.net"));
        assert!(m("db[0-9][0-9]", "db42"));
        assert!(!m("db[!0-9]", "db4"));
        assert!(m("db[!0-9]", "dbx"));
        assert!(m("*.*.net", "a.b.net"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(
            Pattern::new("web[0-9").unwrap_err().0,
            "unclosed `[` in pattern \"web[0-9\""
        );
        assert!(Pattern::new("").is_err());
    }

    #[test]
    fn no_blowup_on_many_stars() {
        let p = Pattern::new(&"a*".repeat(30)).unwrap();
        assert!(!p.matches(&"a".repeat(29)));
        assert!(p.matches(&"a".repeat(31)));
    }
}
