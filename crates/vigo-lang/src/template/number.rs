//! Number constants: Go's syntax (`0x1F`, `0o17`, `017`, `0b101`, `1_000`, `1e-3`,
//! `0x1p-2`) and the type Go gives a constant where none is known (`int` or `float64`).

use super::node::Ideal;

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1] | 0x20 == b'x';
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || hex && (c | 0x20).is_ascii_hexdigit() {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (base, digits) =
        if b[0] == b'0' && s.len() >= 3 && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
            let base = match b[1] | 0x20 {
                b'b' => 2,
                b'o' => 8,
                _ => 16,
            };
            (base, &s[2..])
        } else if b[0] == b'0' {
            (8, &s[1..])
        } else {
            (10, s)
        };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        0i64.checked_sub_unsigned(u)
    } else {
        i64::try_from(u).ok()
    }
}

/// A hexadecimal float such as `0x1.8p+1` (sign and `0x` already removed).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i64 = exp.parse().ok()?;
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut m: u64 = 0;
    let mut shift: i64 = 0;
    for (i, c) in int_part.chars().chain(frac_part.chars()).enumerate() {
        let d = u64::from(c.to_digit(16)?);
        if m >> 59 == 0 {
            m = m << 4 | d;
            if i >= int_part.len() {
                shift -= 4;
            }
        } else if i < int_part.len() {
            shift += 4;
        }
    }
    let mut v = m as f64;
    let mut e = exp.checked_add(shift)?.clamp(-2200, 2200);
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    Some(v)
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms the scanner passes on.
fn parse_float(s: &str) -> Option<f64> {
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        parse_hex_float(hex)?
    } else {
        if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// Splits a complex constant `re+imi` into its parts.
fn complex_ok(s: &str) -> bool {
    let Some(body) = s.strip_suffix('i') else {
        return false;
    };
    let bytes = body.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&i| matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1] | 0x20, b'e' | b'p'));
    match split {
        Some(i) => parse_float(&body[..i]).is_some() && parse_float(&body[i..]).is_some(),
        None => parse_float(body).is_some(),
    }
}

/// The value of the number constant `text` (`complex_item`: the scanner saw `a+bi`).
pub(crate) fn parse_number(text: &str, complex_item: bool) -> Result<Ideal, String> {
    let illegal = || format!("illegal number syntax: {}", super::escape::quote(text));
    if complex_item || text.ends_with('i') && parse_float(&text[..text.len() - 1]).is_some() {
        return if complex_ok(text) {
            Ok(Ideal::Complex)
        } else {
            Err(illegal())
        };
    }
    let as_int = parse_int(text);
    let as_uint = parse_uint(text).or(if as_int == Some(0) { Some(0) } else { None });
    let float_like = text.contains(['.', 'e', 'E', 'p', 'P']);
    let hex_int = text.len() > 2
        && text.starts_with('0')
        && matches!(text.as_bytes()[1], b'x' | b'X')
        && !text.contains(['p', 'P']);
    if as_int.is_none() && as_uint.is_none() {
        let f = parse_float(text).ok_or_else(illegal)?;
        if !float_like {
            return Err(format!("integer overflow: {}", super::escape::quote(text)));
        }
        return Ok(Ideal::Float(f));
    }
    if float_like && !hex_int {
        let f = match (as_int, as_uint) {
            (Some(i), _) => i as f64,
            (None, Some(u)) => u as f64,
            (None, None) => return Err(illegal()),
        };
        return Ok(Ideal::Float(f));
    }
    Ok(match as_int {
        Some(i) => Ideal::Int(i),
        None => Ideal::Overflow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `numberTests` (parse/parse_test.go), as the constant each one becomes.
    #[test]
    fn number_constants_match_go() {
        use Ideal::*;
        let ok = [
            ("0", Int(0)),
            ("-0", Int(0)),
            ("73", Int(73)),
            ("7_3", Int(73)),
            ("0b10_010_01", Int(73)),
            ("0B10_010_01", Int(73)),
            ("073", Int(0o73)),
            ("0o73", Int(0o73)),
            ("0O73", Int(0o73)),
            ("0x73", Int(0x73)),
            ("0X73", Int(0x73)),
            ("0x7_3", Int(0x73)),
            ("-73", Int(-73)),
            ("+73", Int(73)),
            ("100", Int(100)),
            ("1e9", Float(1e9)),
            ("-1e9", Float(-1e9)),
            ("-1.2", Float(-1.2)),
            ("1e19", Float(1e19)),
            ("1e1_9", Float(1e19)),
            ("1E19", Float(1e19)),
            ("-1e19", Float(-1e19)),
            ("0x_1p4", Float(16.0)),
            ("0X_1P4", Float(16.0)),
            ("0x_1p-4", Float(1.0 / 16.0)),
            ("4i", Complex),
            ("-1.2+4.2i", Complex),
            ("073i", Complex),
            ("0i", Complex),
            ("-1.2+0i", Complex),
            ("0123", Int(0o123)),
            ("-0x0", Int(0)),
            ("0xdeadbeef", Int(0xdeadbeef)),
            ("0xef", Int(0xef)),
            ("0x1.ep+2", Float(7.5)),
            ("18446744073709551615", Overflow),
        ];
        for (text, want) in ok {
            let complex = text.len() > 1 && text[1..].contains(['+', '-']) && text.ends_with('i');
            assert_eq!(parse_number(text, complex), Ok(want), "{text}");
        }
        for bad in [
            "+-2",
            "0x123.",
            "1e.",
            "0xi.",
            "1+2.",
            "089",
            "99999999999999999999",
        ] {
            assert!(parse_number(bad, false).is_err(), "{bad}");
        }
    }
}
