//! Go's `fmt` for template values: `Sprint`, `Sprintln` and `Sprintf` with every verb,
//! flag, width, precision, `*` and `%[n]` argument index, as a port of `fmt/print.go` and
//! `fmt/format.go`. Widths and precisions above 10^6 are refused as Go refuses them, and
//! the text produced is bounded, so no format can allocate without limit.

use serde_json::Value;

use super::escape::{can_backquote, quote_rune, quote_with};
use super::float::format_float;
use super::value::{Kind, Reader, UnresolvedSecret, Val, sorted_entries};

/// Why formatting stopped.
#[derive(Debug)]
pub(crate) enum FmtError {
    /// A secret marker in the data was not resolved.
    Secret(UnresolvedSecret),
    /// The text grew past the limit (bytes).
    TooLarge(usize),
    /// Data nested deeper than the printer follows.
    TooDeep,
}

impl From<UnresolvedSecret> for FmtError {
    fn from(e: UnresolvedSecret) -> Self {
        FmtError::Secret(e)
    }
}

type R = Result<(), FmtError>;

/// How deep the printer follows nested lists and maps.
const MAX_PRINT_DEPTH: usize = 200;
/// Go's bound on widths and precisions.
const MAX_WIDTH: usize = 1_000_000;

#[derive(Default, Clone, Copy)]
struct Flags {
    wid: usize,
    wid_present: bool,
    prec: usize,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

/// An element being printed: a template value, or a value inside data.
#[derive(Clone, Copy)]
enum Elem<'v, 'a> {
    Val(&'v Val<'a>),
    Json(&'a Value),
}

/// The printer's state for one `Sprint`/`Sprintf` call.
pub(crate) struct Printer<'r> {
    buf: String,
    f: Flags,
    reader: Reader<'r>,
    limit: usize,
    /// An explicit `[n]` operand index was seen (then unused operands are not "EXTRA").
    reordered: bool,
    /// The current verb's operand index is valid.
    good_arg_num: bool,
    /// Whether anything printed derives from a secret.
    pub(crate) tainted: bool,
}

impl<'r> Printer<'r> {
    /// A printer that refuses to produce more than `limit` bytes.
    pub(crate) fn new(reader: Reader<'r>, limit: usize) -> Self {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            reader,
            limit,
            reordered: false,
            good_arg_num: true,
            tainted: false,
        }
    }

    /// The text printed so far.
    pub(crate) fn finish(self) -> (String, bool) {
        (self.buf, self.tainted)
    }

    fn check(&self) -> R {
        if self.buf.len() > self.limit {
            return Err(FmtError::TooLarge(self.limit));
        }
        Ok(())
    }

    fn write_padding(&mut self, n: usize) -> R {
        if self.buf.len() + n > self.limit {
            return Err(FmtError::TooLarge(self.limit));
        }
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
        Ok(())
    }

    fn pad(&mut self, s: &str) -> R {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return self.check();
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width)
        } else {
            self.write_padding(width)?;
            self.buf.push_str(s);
            self.check()
        }
    }

    fn fmt_integer(&mut self, u: u64, base: u32, signed: bool, verb: char, upper: bool) -> R {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let digits: &[u8] = if upper {
            b"0123456789ABCDEFX"
        } else {
            b"0123456789abcdefx"
        };
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                let r = self.write_padding(self.f.wid);
                self.f.zero = old;
                return r;
            }
        } else if self.f.zero && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut buf: Vec<u8> = Vec::with_capacity(prec.max(24));
        let b = u64::from(base);
        while u >= b {
            buf.push(digits[(u % b) as usize]);
            u /= b;
        }
        buf.push(digits[u as usize]);
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8(buf).unwrap_or_default();
        let old = self.f.zero;
        self.f.zero = false;
        let r = self.pad(&s);
        self.f.zero = old;
        r
    }

    fn fmt_unicode(&mut self, u: u64) -> R {
        let prec = if self.f.prec_present && self.f.prec > 4 {
            self.f.prec
        } else {
            4
        };
        // Built by hand: Rust's formatter panics on widths above 65535.
        let hex = format!("{u:X}");
        let mut s = String::from("U+");
        s.extend(std::iter::repeat_n('0', prec.saturating_sub(hex.len())));
        s.push_str(&hex);
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && super::escape::is_print(c)
        {
            s.push_str(&format!(" '{c}'"));
        }
        let old = self.f.zero;
        self.f.zero = false;
        let r = self.pad(&s);
        self.f.zero = old;
        r
    }

    fn rune_of(u: u64) -> char {
        u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
    }

    fn fmt_s(&mut self, s: &str) -> R {
        let s = self.truncate(s);
        self.pad(s)
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.f.prec)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) -> R {
        let digits: &[u8] = if upper {
            b"0123456789ABCDEFX"
        } else {
            b"0123456789abcdefx"
        };
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                return self.write_padding(self.f.wid);
            }
            return Ok(());
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width)?;
        }
        let mut out = String::with_capacity(width);
        if self.f.sharp {
            out.push('0');
            out.push(char::from(digits[16]));
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(char::from(digits[16]));
                }
            }
            out.push(char::from(digits[usize::from(c >> 4)]));
            out.push(char::from(digits[usize::from(c & 0xf)]));
        }
        self.buf.push_str(&out);
        self.check()?;
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width)?;
        }
        Ok(())
    }

    fn fmt_q(&mut self, s: &str) -> R {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            return self.pad(&format!("`{s}`"));
        }
        self.pad(&quote_with(s, self.f.plus))
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: i64) -> R {
        let prec = if self.f.prec_present {
            self.f.prec as i64
        } else {
            prec
        };
        let formatted = format_float(v, verb as u8, prec);
        let mut num: Vec<u8> = if formatted.starts_with(['-', '+']) {
            formatted.into_bytes()
        } else {
            let mut n = vec![b'+'];
            n.extend_from_slice(formatted.as_bytes());
            n
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num[1] == b'I' || num[1] == b'N' {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let r = self.pad(std::str::from_utf8(&num).unwrap_or_default());
            self.f.zero = old;
            return r;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = match verb {
                'v' | 'g' | 'G' | 'x' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let text = String::from_utf8(num).unwrap_or_default();
        if self.f.plus || !text.starts_with('+') {
            if self.f.zero && self.f.wid_present && self.f.wid > text.len() {
                self.buf.push_str(&text[..1]);
                self.write_padding(self.f.wid - text.len())?;
                self.buf.push_str(&text[1..]);
                return self.check();
            }
            return self.pad(&text);
        }
        self.pad(&text[1..])
    }

    fn bad_verb(&mut self, verb: char, e: Option<Elem<'_, '_>>) -> R {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match e {
            Some(e) if !matches!(self.kind_of(e)?.kind, Kind::Nil) => {
                let v = self.kind_of(e)?;
                self.buf.push_str(v.type_name());
                self.buf.push('=');
                self.print_elem(e, 'v', 0)?;
            }
            _ => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
        self.check()
    }

    fn kind_of<'a>(&self, e: Elem<'_, 'a>) -> Result<Val<'a>, FmtError> {
        match e {
            Elem::Val(v) => Ok(v.clone()),
            Elem::Json(j) => Ok(self.reader.json(j)?),
        }
    }

    /// Go's `printArg`: one top-level operand.
    fn print_arg(&mut self, v: &Val<'_>, verb: char) -> R {
        self.tainted |= v.tainted;
        if matches!(v.kind, Kind::Nil) {
            return match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            };
        }
        if verb == 'T' {
            return self.fmt_s(v.type_name());
        }
        self.print_value(v, verb, 0)
    }

    fn print_elem(&mut self, e: Elem<'_, '_>, verb: char, depth: usize) -> R {
        let v = self.kind_of(e)?;
        self.print_value(&v, verb, depth)
    }

    /// Go's `printValue` for one value of any kind.
    fn print_value(&mut self, v: &Val<'_>, verb: char, depth: usize) -> R {
        self.tainted |= v.tainted;
        if depth > MAX_PRINT_DEPTH {
            return Err(FmtError::TooDeep);
        }
        let e = Elem::Val(v);
        match &v.kind {
            Kind::Nil => {
                if depth == 0 {
                    return self.bad_verb(verb, None);
                }
                if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
                self.check()
            }
            Kind::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, Some(e)),
            },
            Kind::Int(i) => self.print_integer(*i as u64, true, verb, e),
            Kind::Uint(u) => self.print_integer(*u, false, verb, e),
            Kind::Byte(b) => self.print_integer(u64::from(*b), false, verb, e),
            Kind::Float(f) => match verb {
                'v' => self.fmt_float(*f, 'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*f, verb, -1),
                'f' | 'e' | 'E' => self.fmt_float(*f, verb, 6),
                'F' => self.fmt_float(*f, 'f', 6),
                _ => self.bad_verb(verb, Some(e)),
            },
            Kind::Str(s) => {
                let s = s.as_str();
                match verb {
                    'v' if self.f.sharp_v => self.fmt_q(s),
                    'v' | 's' => self.fmt_s(s),
                    'x' => self.fmt_sx(s, false),
                    'X' => self.fmt_sx(s, true),
                    'q' => self.fmt_q(s),
                    _ => self.bad_verb(verb, Some(e)),
                }
            }
            Kind::List(items) => {
                if self.f.sharp_v {
                    self.buf.push_str("[]interface {}{");
                } else {
                    self.buf.push('[');
                }
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_elem(Elem::Json(item), verb, depth + 1)?;
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
                self.check()
            }
            Kind::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str("map[string]interface {}{");
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, item)) in sorted_entries(m).iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    let key = self.reader.text(k)?;
                    self.print_value(&key, verb, depth + 1)?;
                    self.buf.push(':');
                    self.print_elem(Elem::Json(item), verb, depth + 1)?;
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
                self.check()
            }
        }
    }

    fn print_integer(&mut self, u: u64, signed: bool, verb: char, e: Elem<'_, '_>) -> R {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let old = self.f.sharp;
                self.f.sharp = true;
                let r = self.fmt_integer(u, 16, false, 'v', false);
                self.f.sharp = old;
                r
            }
            'v' | 'd' => self.fmt_integer(u, 10, signed, verb, false),
            'b' => self.fmt_integer(u, 2, signed, verb, false),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, false),
            'x' => self.fmt_integer(u, 16, signed, verb, false),
            'X' => self.fmt_integer(u, 16, signed, verb, true),
            'c' => {
                let c = Self::rune_of(u);
                self.pad(c.encode_utf8(&mut [0; 4]))
            }
            'q' => {
                let c = Self::rune_of(u);
                self.pad(&quote_rune(c, self.f.plus))
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, Some(e)),
        }
    }

    /// Go's `Sprint`: spaces between operands when neither side is a string.
    pub(crate) fn sprint(&mut self, args: &[Val<'_>]) -> R {
        let mut prev_string = false;
        for (i, a) in args.iter().enumerate() {
            let is_string = matches!(a.kind, Kind::Str(_));
            if i > 0 && !is_string && !prev_string {
                self.buf.push(' ');
            }
            self.print_arg(a, 'v')?;
            prev_string = is_string;
        }
        Ok(())
    }

    /// Go's `Sprintln`: spaces between all operands, and a newline.
    pub(crate) fn sprintln(&mut self, args: &[Val<'_>]) -> R {
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.buf.push(' ');
            }
            self.print_arg(a, 'v')?;
        }
        self.buf.push('\n');
        self.check()
    }

    /// Go's `argNumber`: an explicit `[n]` operand index at `i`.
    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &str,
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        let f = format.as_bytes();
        if f.len() <= i || f[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&f[i..]);
        if let Some(index) = index.filter(|x| ok && *x < num_args) {
            return (index, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    /// Go's `Sprintf`.
    pub(crate) fn sprintf(&mut self, format: &str, a: &[Val<'_>]) -> R {
        let fmt = format.as_bytes();
        let end = fmt.len();
        let mut arg_num = 0usize;
        self.reordered = false;
        let mut i = 0usize;
        'format: while i < end {
            self.good_arg_num = true;
            let last = i;
            while i < end && fmt[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.buf.push_str(&format[last..i]);
                self.check()?;
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            while i < end {
                let c = fmt[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < a.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&a[arg_num], char::from(c))?;
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }
            let mut after_index;
            (arg_num, i, after_index) = self.arg_number(arg_num, format, i, a.len());
            if i < end && fmt[i] == b'*' {
                i += 1;
                let (w, ok, next) = int_from_arg(a, arg_num);
                arg_num = next;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.wid = w.unsigned_abs() as usize;
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = w as usize;
                }
                after_index = false;
            } else {
                let (w, ok, next) = parse_num(fmt, i, end);
                self.f.wid = w;
                self.f.wid_present = ok;
                i = next;
                if after_index && ok {
                    self.good_arg_num = false;
                }
            }
            if i + 1 < end && fmt[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, format, i, a.len());
                if i < end && fmt[i] == b'*' {
                    i += 1;
                    let (p, ok, next) = int_from_arg(a, arg_num);
                    arg_num = next;
                    self.f.prec_present = ok && p >= 0;
                    self.f.prec = if p < 0 { 0 } else { p as usize };
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, next) = parse_num(fmt, i, end);
                    i = next;
                    self.f.prec = if ok { p } else { 0 };
                    self.f.prec_present = true;
                }
            }
            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, format, i, a.len());
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('%');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(BADINDEX)");
            } else if arg_num >= a.len() {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&a[arg_num], verb)?;
                arg_num += 1;
            }
            self.check()?;
        }
        if !self.reordered && arg_num < a.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, arg) in a[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if matches!(arg.kind, Kind::Nil) {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v')?;
                }
            }
            self.buf.push(')');
        }
        self.check()
    }
}

/// Go's `parsenum`: a decimal number, refusing any above 10^6 (then `end` is returned).
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    let mut num = 0usize;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > MAX_WIDTH {
            return (0, false, end);
        }
        num = num * 10 + usize::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Go's `intFromArg`: a `*` width or precision from the operands.
fn int_from_arg(a: &[Val<'_>], arg_num: usize) -> (i64, bool, usize) {
    let Some(v) = a.get(arg_num) else {
        return (0, false, arg_num);
    };
    let n = match v.kind {
        Kind::Int(i) => Some(i),
        Kind::Uint(u) => i64::try_from(u).ok(),
        Kind::Byte(b) => Some(i64::from(b)),
        _ => None,
    };
    match n {
        Some(n) if n.unsigned_abs() <= MAX_WIDTH as u64 => (n, true, arg_num + 1),
        _ => (0, false, arg_num + 1),
    }
}

fn parse_arg_number(f: &[u8]) -> (Option<usize>, usize, bool) {
    if f.len() < 3 {
        return (None, 1, false);
    }
    for i in 1..f.len() {
        if f[i] == b']' {
            let (width, ok, newi) = parse_num(f, 1, i);
            if !ok || newi != i {
                return (None, i + 1, false);
            }
            return (width.checked_sub(1), i + 1, true);
        }
    }
    (None, 1, false)
}
