//! Splitting a template into text and actions, and actions into tokens.

use super::TemplateError;

/// A piece of template source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// Literal text.
    Text(String),
    /// An action's tokens and where it starts.
    Action {
        tokens: Vec<Tok>,
        line: usize,
        col: usize,
    },
}

/// A token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `.` alone.
    Dot,
    /// `.A.B` — the field names.
    Field(Vec<String>),
    /// `$name` (`$` alone is `""`) and its field chain.
    Var(String, Vec<String>),
    /// A function name or keyword.
    Ident(String),
    /// A string literal (already unescaped).
    Str(String),
    /// A number literal.
    Num(f64, bool),
    /// `|`.
    Pipe,
    /// `(`.
    LParen,
    /// `)` and a field chain after it (`(…).Field`).
    RParen(Vec<String>),
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
}

fn pos_of(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |n| offset - n - 1) + 1;
    (line, col)
}

/// Splits `src` into text and action pieces, applying `{{-`/`-}}` trimming and dropping
/// comments.
pub(crate) fn split(name: &str, src: &str) -> Result<Vec<Piece>, TemplateError> {
    let err = |off: usize, message: String| {
        let (line, col) = pos_of(src, off);
        TemplateError {
            name: name.to_owned(),
            line,
            col,
            message,
        }
    };
    let mut pieces = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    while i < src.len() {
        let Some(rel) = src[i..].find("{{") else {
            let mut text = src[i..].to_owned();
            if trim_next {
                text = text.trim_start().to_owned();
            }
            pieces.push(Piece::Text(text));
            break;
        };
        let start = i + rel;
        let mut text = src[i..start].to_owned();
        if trim_next {
            text = text.trim_start().to_owned();
        }
        let mut inner_start = start + 2;
        if src[inner_start..].starts_with("- ")
            || src[inner_start..].starts_with("-\t")
            || src[inner_start..].starts_with("-\n")
        {
            text = text.trim_end().to_owned();
            inner_start += 1;
        }
        pieces.push(Piece::Text(text));
        // Find the closing `}}` outside quotes.
        let bytes = src.as_bytes();
        let mut j = inner_start;
        let mut quote: Option<u8> = None;
        let end = loop {
            if j >= bytes.len() {
                return Err(err(start, "unclosed action (no `}}`)".into()));
            }
            let b = bytes[j];
            match quote {
                Some(q) if b == b'\\' && q == b'"' => j += 1,
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'"' || b == b'`' || b == b'\'' => quote = Some(b),
                None if b == b'}' && bytes.get(j + 1) == Some(&b'}') => break j,
                None => {}
            }
            j += 1;
        };
        let mut inner_end = end;
        trim_next = false;
        if end >= 2 && matches!(&bytes[end - 2..end], b" -" | b"\t-" | b"\n-") {
            inner_end = end - 1;
            trim_next = true;
        }
        let inner = src[inner_start..inner_end].trim();
        if inner.starts_with("/*") {
            if !inner.ends_with("*/") {
                return Err(err(start, "unclosed comment".into()));
            }
        } else {
            let (line, col) = pos_of(src, start);
            let tokens = tokenize(inner).map_err(|m| err(start, m))?;
            if tokens.is_empty() {
                return Err(err(start, "empty action".into()));
            }
            pieces.push(Piece::Action { tokens, line, col });
        }
        i = end + 2;
    }
    Ok(pieces
        .into_iter()
        .filter(|p| !matches!(p, Piece::Text(t) if t.is_empty()))
        .collect())
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn fields(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    while *i < chars.len() && chars[*i] == '.' && chars.get(*i + 1).is_some_and(|c| ident_char(*c))
    {
        *i += 1;
        let s = *i;
        while *i < chars.len() && ident_char(chars[*i]) {
            *i += 1;
        }
        out.push(chars[s..*i].iter().collect());
    }
    out
}

/// Tokenizes one action's content.
pub(crate) fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                i += 1;
                out.push(Tok::RParen(fields(&chars, &mut i)));
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                out.push(Tok::Assign);
                i += 1;
            }
            '.' => {
                let f = fields(&chars, &mut i);
                if f.is_empty() {
                    i += 1;
                    out.push(Tok::Dot);
                } else {
                    out.push(Tok::Field(f));
                }
            }
            '$' => {
                i += 1;
                let s0 = i;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[s0..i].iter().collect();
                out.push(Tok::Var(name, fields(&chars, &mut i)));
            }
            '"' => {
                i += 1;
                let mut v = String::new();
                loop {
                    let Some(&ch) = chars.get(i) else {
                        return Err("unterminated string".into());
                    };
                    i += 1;
                    match ch {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err("unterminated string".into());
                            };
                            i += 1;
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '0' => '\0',
                                other => return Err(format!("unknown escape \\{other} in string")),
                            });
                        }
                        other => v.push(other),
                    }
                }
                out.push(Tok::Str(v));
            }
            '`' => {
                i += 1;
                let s0 = i;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated raw string".into());
                }
                out.push(Tok::Str(chars[s0..i].iter().collect()));
                i += 1;
            }
            '\'' => {
                let ch = *chars.get(i + 1).ok_or("unterminated character")?;
                if chars.get(i + 2) != Some(&'\'') {
                    return Err("bad character literal".into());
                }
                out.push(Tok::Num(f64::from(u32::from(ch)), true));
                i += 3;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let s0 = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
                let text: String = chars[s0..i].iter().filter(|c| **c != '_').collect();
                let n = if let Some(hex) = text.strip_prefix("0x") {
                    i64::from_str_radix(hex, 16)
                        .map(|v| (v as f64, true))
                        .map_err(|_| format!("bad number {text}"))?
                } else if let Ok(v) = text.parse::<i64>() {
                    (v as f64, true)
                } else {
                    (
                        text.parse::<f64>()
                            .map_err(|_| format!("bad number {text}"))?,
                        false,
                    )
                };
                out.push(Tok::Num(n.0, n.1));
            }
            c if ident_char(c) => {
                let s0 = i;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Ident(chars[s0..i].iter().collect()));
            }
            other => return Err(format!("unexpected character `{other}`")),
        }
    }
    Ok(out)
}
