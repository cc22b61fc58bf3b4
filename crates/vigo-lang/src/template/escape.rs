//! Quoting and escaping as Go does it: `strconv.Quote`/`Unquote` for literals and `%q`,
//! and the `html`, `js` and `urlquery` escapers.

use std::fmt::Write as _;

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    c == ' '
        || matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter
                | GeneralCategoryGroup::Mark
                | GeneralCategoryGroup::Number
                | GeneralCategoryGroup::Punctuation
                | GeneralCategoryGroup::Symbol
        )
}

/// Go's `%#U`: `U+0023 '#'`, or `U+0001` for a character that does not print.
pub(crate) fn unicode_name(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", u32::from(c))
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

fn escaped_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if c < ' ' || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if u32::from(c) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\U{:08x}", u32::from(c));
        }
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII` with `ascii_only`).
pub(crate) fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escaped_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escaped_rune(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        if c.len_utf8() > 1 {
            return c != '\u{feff}';
        }
        !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}')
    })
}

fn unhex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// Go's `strconv.UnquoteChar`: one character (or byte, for `\x`/octal) from the start of
/// `s`, and the rest.
fn unquote_char(s: &[u8], quote: u8) -> Option<(u32, bool, &[u8])> {
    let (&c, rest) = s.split_first()?;
    if c == quote && (quote == b'\'' || quote == b'"') {
        return None;
    }
    if c >= 0x80 {
        let text = std::str::from_utf8(&s[..s.len().min(4)])
            .or_else(|e| std::str::from_utf8(&s[..e.valid_up_to()]))
            .ok()?;
        let ch = text.chars().next()?;
        return Some((u32::from(ch), true, &s[ch.len_utf8()..]));
    }
    if c != b'\\' {
        return Some((u32::from(c), false, rest));
    }
    let (&e, mut rest) = rest.split_first()?;
    let value = match e {
        b'a' => 7,
        b'b' => 8,
        b'f' => 12,
        b'n' => 10,
        b'r' => 13,
        b't' => 9,
        b'v' => 11,
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            if rest.len() < n {
                return None;
            }
            let mut v = 0u32;
            for &b in &rest[..n] {
                v = v << 4 | unhex(b)?;
            }
            rest = &rest[n..];
            if e == b'x' {
                return Some((v, false, rest));
            }
            char::from_u32(v)?;
            return Some((v, true, rest));
        }
        b'0'..=b'7' => {
            if rest.len() < 2 {
                return None;
            }
            let mut v = u32::from(e - b'0');
            for &b in &rest[..2] {
                let x = b.checked_sub(b'0').filter(|x| *x <= 7)?;
                v = (v << 3) | u32::from(x);
            }
            rest = &rest[2..];
            if v > 255 {
                return None;
            }
            return Some((v, false, rest));
        }
        b'\\' => u32::from(b'\\'),
        b'\'' | b'"' if e == quote => u32::from(e),
        _ => return None,
    };
    Some((value, false, rest))
}

/// Go's `strconv.Unquote` for a string literal with its quotes (`"…"` or `` `…` ``); the
/// error says why it is not one.
pub(crate) fn unquote(lit: &str) -> Result<String, String> {
    let bad = || format!("invalid string literal {lit}");
    if let Some(raw) = lit.strip_prefix('`') {
        let body = raw.strip_suffix('`').ok_or_else(bad)?;
        if body.contains('`') {
            return Err(bad());
        }
        return Ok(body.replace('\r', ""));
    }
    let body = lit
        .strip_prefix('"')
        .and_then(|b| b.strip_suffix('"'))
        .ok_or_else(bad)?;
    let mut bytes = Vec::with_capacity(body.len());
    let mut rest = body.as_bytes();
    while !rest.is_empty() {
        let (v, multibyte, tail) = unquote_char(rest, b'"').ok_or_else(bad)?;
        if v < 0x80 || !multibyte && v <= 0xff && rest[0] == b'\\' {
            bytes.push(u8::try_from(v).map_err(|_| bad())?);
        } else {
            let c = char::from_u32(v).ok_or_else(bad)?;
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        rest = tail;
    }
    String::from_utf8(bytes).map_err(|_| format!("string literal {lit} is not valid UTF-8"))
}

/// The value of a character constant such as `'a'` or `'\n'`.
pub(crate) fn unquote_char_constant(lit: &str) -> Result<u32, String> {
    let bytes = lit.as_bytes();
    let malformed = || format!("malformed character constant: {lit}");
    let body = bytes.get(1..).ok_or_else(malformed)?;
    let (v, _, tail) = unquote_char(body, b'\'').ok_or_else(|| "invalid syntax".to_owned())?;
    if tail != b"'" {
        return Err(malformed());
    }
    Ok(v)
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' => {
                let _ = write!(out, "\\u00{:02X}", u32::from(c));
            }
            c if !c.is_ascii() && !is_print(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn urlquery(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `TestJSEscaping` table.
    #[test]
    fn js_escaping_matches_go() {
        for (input, want) in [
            ("a", "a"),
            ("'foo", "\\'foo"),
            ("Go \"jump\" \\", "Go \\\"jump\\\" \\\\"),
            (
                "Yukihiro says \"今日は世界\"",
                "Yukihiro says \\\"今日は世界\\\"",
            ),
            // Go 1.19's case is U+FDFF, unassigned in its Unicode 13 but a symbol since
            // Unicode 14; U+FDD0 is a permanent noncharacter.
            ("unprintable \u{FDD0}", "unprintable \\uFDD0"),
            ("<html>", "\\u003Chtml\\u003E"),
            ("no = in attributes", "no \\u003D in attributes"),
            (
                "&#x27; does not become HTML entity",
                "\\u0026#x27; does not become HTML entity",
            ),
            ("tab\tnl\n", "tab\\u0009nl\\u000A"),
        ] {
            assert_eq!(js(input), want, "{input:?}");
        }
    }

    #[test]
    fn quote_and_unquote_round_trip() {
        assert_eq!(
            quote("a\"b\\\n\u{7f}\u{a0}é"),
            "\"a\\\"b\\\\\\n\\x7f\\u00a0é\""
        );
        assert_eq!(
            unquote("\"\\x41\\101\\u00e9\\U0001F600\"").unwrap(),
            "AAé😀"
        );
        assert!(
            unquote("\"\\xff\"")
                .unwrap_err()
                .contains("not valid UTF-8")
        );
        assert!(unquote("\"\\q\"").is_err());
        assert_eq!(unquote_char_constant("'\\''").unwrap(), 39);
        assert_eq!(unquote_char_constant("'パ'").unwrap(), 0x30d1);
        assert!(unquote_char_constant("'xx'").is_err());
    }
}
