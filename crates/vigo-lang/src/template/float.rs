//! Go's `strconv.FormatFloat(v, fmt, prec, 64)`: `%e %f %g` (shortest or fixed digits),
//! `%b` and `%x`. Digits come from Rust's exact float formatting; the layout is Go's.

/// Decimal digits (no leading or trailing zeros) and the decimal point's position:
/// the value is `0.d1d2… × 10^dp`. Zero has no digits.
struct Digits {
    d: Vec<u8>,
    dp: i64,
}

/// The most significant digits an f64 can need (its exact expansion has at most 767).
const MAX_SIG_DIGITS: usize = 800;
/// The most fractional digits an f64 can need (its exact expansion has at most 1074).
const MAX_FRAC_DIGITS: usize = 1100;

fn from_scientific(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

/// The shortest digits that read back as `v` (`v` ≥ 0, finite).
fn shortest(v: f64) -> Digits {
    from_scientific(&format!("{v:e}"))
}

/// `n` ≥ 1 significant digits, correctly rounded (`v` ≥ 0, finite).
fn significant(v: f64, n: usize) -> Digits {
    let n = n.clamp(1, MAX_SIG_DIGITS);
    from_scientific(&format!("{v:.*e}", n - 1))
}

/// Rounded to `prec` fractional digits (`v` ≥ 0, finite).
fn fractional(v: f64, prec: usize) -> Digits {
    let s = format!("{v:.*}", prec.min(MAX_FRAC_DIGITS));
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut d: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let mut dp = int.len() as i64;
    let lead = d.iter().take_while(|b| **b == b'0').count();
    d.drain(..lead);
    dp -= lead as i64;
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        dp = 0;
    }
    Digits { d, dp }
}

fn fmt_e(out: &mut String, d: &Digits, prec: i64, fmt: u8) {
    out.push(char::from(d.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        let mut i = 1usize;
        let m =
            d.d.len()
                .min(usize::try_from(prec + 1).unwrap_or(usize::MAX));
        if i < m {
            out.extend(d.d[i..m].iter().map(|b| char::from(*b)));
            i = m;
        }
        while (i as i64) <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(char::from(fmt));
    push_exponent(out, if d.d.is_empty() { 0 } else { d.dp - 1 });
}

/// `±dd`: a signed exponent of at least two digits.
fn push_exponent(out: &mut String, exp: i64) {
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Digits, prec: i64) {
    if d.dp > 0 {
        let dp = usize::try_from(d.dp).unwrap_or(0);
        let m = d.d.len().min(dp);
        out.extend(d.d[..m].iter().map(|b| char::from(*b)));
        out.extend(std::iter::repeat_n('0', dp - m));
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            let j = d.dp + i;
            let ch = usize::try_from(j)
                .ok()
                .and_then(|j| d.d.get(j))
                .copied()
                .unwrap_or(b'0');
            out.push(char::from(ch));
        }
    }
}

fn fmt_b(out: &mut String, mant: u64, exp: i64) {
    out.push_str(&mant.to_string());
    out.push('p');
    let exp = exp - 52;
    if exp >= 0 {
        out.push('+');
    }
    out.push_str(&exp.to_string());
}

fn fmt_x(out: &mut String, prec: i64, fmt: u8, mut mant: u64, mut exp: i64) {
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = u32::try_from(prec * 4).unwrap_or(0);
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8] = if fmt == b'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push('0');
    out.push(char::from(fmt));
    out.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    out.push(if fmt == b'X' { 'P' } else { 'p' });
    push_exponent(out, exp);
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`; `prec` < 0 means the shortest exact form.
pub(crate) fn format_float(v: f64, fmt: u8, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-Inf" } else { "+Inf" }.into();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1 << 52) - 1);
    let (mant, exp) = if biased == 0 {
        (frac, -1022)
    } else {
        (frac | (1 << 52), biased - 1023)
    };
    match fmt {
        b'b' => {
            fmt_b(&mut out, mant, exp);
            return out;
        }
        b'x' | b'X' => {
            fmt_x(&mut out, prec, fmt, mant, exp);
            return out;
        }
        _ => {}
    }
    let shortest_mode = prec < 0;
    let mut prec = prec;
    let digits = if shortest_mode {
        let d = shortest(a);
        let nd = d.d.len() as i64;
        prec = match fmt {
            b'e' | b'E' => (nd - 1).max(0),
            b'f' => (nd - d.dp).max(0),
            _ => nd,
        };
        d
    } else {
        match fmt {
            b'e' | b'E' => significant(a, usize::try_from(prec + 1).unwrap_or(1)),
            b'f' => fractional(a, usize::try_from(prec).unwrap_or(0)),
            _ => {
                if prec == 0 {
                    prec = 1;
                }
                significant(a, usize::try_from(prec).unwrap_or(1))
            }
        }
    };
    match fmt {
        b'e' | b'E' => fmt_e(&mut out, &digits, prec, fmt),
        b'f' => fmt_f(&mut out, &digits, prec),
        _ => {
            let nd = digits.d.len() as i64;
            let mut eprec = prec;
            if eprec > nd && nd >= digits.dp {
                eprec = nd;
            }
            if shortest_mode {
                eprec = 6;
            }
            let exp = digits.dp - 1;
            let e = if fmt == b'G' { b'E' } else { b'e' };
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(&mut out, &digits, prec - 1, e);
            } else {
                if prec > digits.dp {
                    prec = nd;
                }
                fmt_f(&mut out, &digits, (prec - digits.dp).max(0));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn formats_as_go_does() {
        for (v, fmt, prec, want) in [
            (1e6, b'g', -1, "1e+06"),
            (123456.0, b'g', -1, "123456"),
            (1234567.0, b'g', -1, "1.234567e+06"),
            (0.0001, b'g', -1, "0.0001"),
            (0.00001, b'g', -1, "1e-05"),
            (3.5, b'g', -1, "3.5"),
            (15.1, b'g', -1, "15.1"),
            (0.0, b'g', -1, "0"),
            (-0.0, b'g', -1, "-0"),
            (100.0, b'g', 2, "1e+02"),
            (1.0, b'g', 3, "1"),
            (1.23456, b'f', 2, "1.23"),
            (2.5, b'f', 0, "2"),
            (1234.5, b'e', 3, "1.234e+03"),
            (0.0, b'e', 2, "0.00e+00"),
            (1e-7, b'e', -1, "1e-07"),
            (5e-324, b'g', -1, "5e-324"),
            (1e100, b'e', -1, "1e+100"),
            (7.5, b'x', -1, "0x1.ep+02"),
            (1.0, b'x', 2, "0x1.00p+00"),
            (1.0, b'b', -1, "4503599627370496p-52"),
            (f64::INFINITY, b'g', -1, "+Inf"),
        ] {
            assert_eq!(
                format_float(v, fmt, prec),
                want,
                "{v} {} {prec}",
                char::from(fmt)
            );
        }
        // A precision beyond Rust's formatting limits pads exactly, without a panic.
        let wide = format_float(0.5, b'f', 100_000);
        assert_eq!(wide.len(), 100_002);
        assert!(wide.starts_with("0.5000"));
    }
}
