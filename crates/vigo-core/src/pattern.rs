//! The regular expressions and `$1` replacement templates of the partial-file types
//! (`file_line`, `blockinfile`, `replace`), defined once: publish (vigo-lang) and the agent
//! (vigo-exec) both go through these functions, so a pattern or a replacement that
//! publishes is one the agent runs, and one the agent would refuse fails at publish.
//!
//! - [`compile`] refuses an empty pattern (it matches everywhere: `file_line` would
//!   rewrite every line, `replace` would insert its text between every character).
//! - [`Template`] is a replacement with group references: `$1`, `${1}`, `$name`,
//!   `${name}`, `$$` for a literal `$`. A reference takes the longest run of letters,
//!   digits and `_`, so `$1_new` names a group called `1_new`: write `${1}_new`. A
//!   reference to a group the pattern does not have is an error, never an empty string.
//! - [`Position`] is where an inserted line or block goes: `end`, `begin`, `after:RE`,
//!   `before:RE` (`file_line`'s `position`), or Ansible's `insertafter`/`insertbefore`
//!   with `EOF`/`BOF` (`blockinfile`).

use regex::{Captures, RegexBuilder};

/// The compiled pattern type, re-exported so users of this module need no `regex` of their
/// own.
pub use regex::Regex;

/// Compiled patterns larger than this are refused (hostile input must not allocate
/// without bound).
const SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern, a replacement or a position is refused; the text is what a user reads
/// after `attribute `…`: `.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is the empty string.
    #[error(
        "is empty: an empty regular expression matches everywhere (write `^` if every line is meant)"
    )]
    Empty,
    /// The pattern does not compile.
    #[error("invalid regular expression: {0}")]
    Invalid(#[source] regex::Error),
    /// A replacement refers to a group number the pattern does not have.
    #[error(
        "`{reference}` refers to group {index}, but the pattern has {groups} group(s) ($0 is the whole match{upto})"
    )]
    NoSuchGroup {
        /// The reference as written (`$5`, `${5}`).
        reference: String,
        /// The group it names.
        index: usize,
        /// How many groups the pattern has (without group 0).
        groups: usize,
        /// `", $1 to $N the groups"` or empty.
        upto: String,
    },
    /// A replacement refers to a group name the pattern does not have.
    #[error(
        "`{reference}` refers to a group named `{name}`, which the pattern does not have{hint}"
    )]
    NoSuchName {
        /// The reference as written.
        reference: String,
        /// The name it uses.
        name: String,
        /// A way out (`; write ${1}_new for group 1 followed by "_new"`), or empty.
        hint: String,
    },
    /// `${` without its `}`.
    #[error("`${{` at byte {0} is not closed by `}}` (write `$$` for a literal `$`)")]
    Unclosed(usize),
    /// A position that is none of the accepted forms.
    #[error("expected {expected}, found \"{found}\"")]
    BadPosition {
        /// The accepted forms.
        expected: &'static str,
        /// What was given.
        found: String,
    },
}

/// Compiles a non-empty pattern; `multi_line` makes `^`/`$` match at every line (the
/// whole-file patterns of `replace`).
pub fn compile(pattern: &str, multi_line: bool) -> Result<Regex, PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    RegexBuilder::new(pattern)
        .multi_line(multi_line)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(PatternError::Invalid)
}

/// A group a template refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Group {
    Index(usize),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Group { group: Group, written: String },
}

/// A replacement text with its group references, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Template {
    /// Parses a replacement; fails only on an unclosed `${`.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(off) = text[i..].find('$') {
            let at = i + off;
            literal.push_str(&text[i..at]);
            let (name, end) = match bytes.get(at + 1) {
                Some(b'$') => {
                    literal.push('$');
                    i = at + 2;
                    continue;
                }
                Some(b'{') => {
                    let close = text[at + 2..].find('}').ok_or(PatternError::Unclosed(at))?;
                    (&text[at + 2..at + 2 + close], at + 3 + close)
                }
                _ => {
                    let len = bytes[at + 1..]
                        .iter()
                        .take_while(|b| is_name_byte(**b))
                        .count();
                    (&text[at + 1..at + 1 + len], at + 1 + len)
                }
            };
            if name.is_empty() {
                // A `$` that starts no reference is itself.
                literal.push('$');
                i = at + 1;
                continue;
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            let group = match name.parse::<usize>() {
                Ok(n) => Group::Index(n),
                Err(_) => Group::Name(name.to_owned()),
            };
            parts.push(Part::Group {
                group,
                written: text[at..end].to_owned(),
            });
            i = end;
        }
        literal.push_str(&text[i..]);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// Parses a replacement and checks that every group it names exists in `re`.
    pub fn for_pattern(text: &str, re: &Regex) -> Result<Self, PatternError> {
        let template = Self::parse(text)?;
        template.check(re)?;
        Ok(template)
    }

    /// Whether the template refers to any group (so that it depends on the match).
    pub fn has_groups(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Group { .. }))
    }

    fn check(&self, re: &Regex) -> Result<(), PatternError> {
        let groups = re.captures_len() - 1;
        for part in &self.parts {
            let Part::Group { group, written } = part else {
                continue;
            };
            match group {
                Group::Index(n) if *n > groups => {
                    return Err(PatternError::NoSuchGroup {
                        reference: written.clone(),
                        index: *n,
                        groups,
                        upto: match groups {
                            0 => String::new(),
                            1 => ", $1 the group".to_owned(),
                            n => format!(", $1 to ${n} the groups"),
                        },
                    });
                }
                Group::Name(name) if !re.capture_names().flatten().any(|c| c == name) => {
                    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
                    let hint = if digits > 0 {
                        let (n, rest) = name.split_at(digits);
                        format!("; write `${{{n}}}{rest}` for group {n} followed by \"{rest}\"")
                    } else {
                        String::new()
                    };
                    return Err(PatternError::NoSuchName {
                        reference: written.clone(),
                        name: name.clone(),
                        hint,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The text for one match: references replaced by the groups' text (an optional
    /// group that did not take part in the match gives the empty string).
    pub fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group { group, .. } => {
                    let m = match group {
                        Group::Index(n) => caps.get(*n),
                        Group::Name(name) => caps.name(name),
                    };
                    out.push_str(m.map_or("", |m| m.as_str()));
                }
            }
        }
        out
    }
}

/// Where a line or block is inserted when it is not in the file yet.
#[derive(Debug, Clone)]
pub enum Position {
    /// At the start of the file (`begin`, `BOF`).
    Begin,
    /// At the end of the file (`end`, `EOF`), the default.
    End,
    /// After a line matching the pattern.
    After(Regex),
    /// Before a line matching the pattern.
    Before(Regex),
}

impl Position {
    /// `file_line`'s `position`: `end`, `begin`, `after:<regex>`, `before:<regex>`.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        match text {
            "end" => Ok(Self::End),
            "begin" => Ok(Self::Begin),
            _ => match text.split_once(':') {
                Some(("after", re)) => Ok(Self::After(compile(re, false)?)),
                Some(("before", re)) => Ok(Self::Before(compile(re, false)?)),
                _ => Err(PatternError::BadPosition {
                    expected: "end, begin, after:<regex> or before:<regex>",
                    found: text.to_owned(),
                }),
            },
        }
    }

    /// Ansible's `insertafter` (a regex or `EOF`) or `insertbefore` (a regex or `BOF`);
    /// neither means the end of the file.
    pub fn from_insert(after: Option<&str>, before: Option<&str>) -> Result<Self, PatternError> {
        match (after, before) {
            (None | Some("EOF"), None) => Ok(Self::End),
            (Some(re), None) => Ok(Self::After(compile(re, false)?)),
            (None, Some("BOF")) => Ok(Self::Begin),
            (None, Some(re)) => Ok(Self::Before(compile(re, false)?)),
            (Some(_), Some(_)) => Err(PatternError::BadPosition {
                expected: "either `insertafter` or `insertbefore`, not both",
                found: "both".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(pattern: &str, replacement: &str, text: &str) -> Result<String, PatternError> {
        let re = compile(pattern, false)?;
        let t = Template::for_pattern(replacement, &re)?;
        Ok(re
            .replace_all(text, |c: &Captures<'_>| t.expand(c))
            .into_owned())
    }

    #[test]
    fn references_by_number_name_and_braces() {
        assert_eq!(expand(r"(\w+)=(\d+)", "$2:$1", "a=1").unwrap(), "1:a");
        assert_eq!(expand(r"(?P<k>\w+)=", "${k}_x=", "a=").unwrap(), "a_x=");
        assert_eq!(expand(r"(\d)", "${1}_new", "5").unwrap(), "5_new");
        assert_eq!(expand(r"(\d)", "$$1 costs $", "5").unwrap(), "$1 costs $");
        assert_eq!(
            expand(r"x(y)?", "[$1]", "x").unwrap(),
            "[]",
            "unmatched group"
        );
        assert_eq!(expand(r"a", "$0$0", "a").unwrap(), "aa");
    }

    #[test]
    fn a_digit_name_is_a_missing_group_with_a_hint() {
        assert_eq!(
            expand(r"(\d)", "$1_new", "5").unwrap_err().to_string(),
            "`$1_new` refers to a group named `1_new`, which the pattern does not have; write `${1}_new` for group 1 followed by \"_new\""
        );
    }

    #[test]
    fn a_missing_group_number_is_refused_instead_of_deleting_text() {
        assert_eq!(
            expand(r"(a)(b)", "$5", "ab").unwrap_err().to_string(),
            "`$5` refers to group 5, but the pattern has 2 group(s) ($0 is the whole match, $1 to $2 the groups)"
        );
        assert_eq!(
            expand(r"ab", "${1}", "ab").unwrap_err().to_string(),
            "`${1}` refers to group 1, but the pattern has 0 group(s) ($0 is the whole match)"
        );
        assert!(matches!(
            expand(r"(?P<a>x)", "$b", "x"),
            Err(PatternError::NoSuchName { .. })
        ));
        assert_eq!(
            Template::parse("x${1").unwrap_err(),
            PatternError::Unclosed(1)
        );
    }

    #[test]
    fn empty_and_invalid_patterns_are_refused() {
        assert_eq!(compile("", false).unwrap_err(), PatternError::Empty);
        assert!(matches!(compile("(", false), Err(PatternError::Invalid(_))));
        assert!(
            matches!(
                compile("a{1000}{1000}{1000}", false),
                Err(PatternError::Invalid(_))
            ),
            "a pattern too large to compile is refused, not allocated"
        );
        assert!(compile("^", true).unwrap().is_match("x\ny"));
    }

    #[test]
    fn positions() {
        assert!(matches!(Position::parse("end"), Ok(Position::End)));
        assert!(matches!(
            Position::parse("after:^a"),
            Ok(Position::After(_))
        ));
        assert_eq!(
            Position::parse("after:").unwrap_err(),
            PatternError::Empty,
            "after: with nothing matches every line"
        );
        assert!(matches!(
            Position::from_insert(Some("EOF"), None),
            Ok(Position::End)
        ));
        assert!(matches!(
            Position::from_insert(None, Some("BOF")),
            Ok(Position::Begin)
        ));
        assert!(matches!(
            Position::from_insert(None, Some("^x")),
            Ok(Position::Before(_))
        ));
        assert!(Position::from_insert(Some("a"), Some("b")).is_err());
    }
}
