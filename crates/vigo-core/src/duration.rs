//! The one duration grammar, for `server.yaml`, the agent's settings and a resource's
//! `timeout`: Go's `time.ParseDuration` form, one or more `<integer><unit>` parts with
//! units `ms`, `s`, `m`, `h` and (a Vigo addition) `d` — `"30s"`, `"5m"`, `"1h30m"`,
//! `"720h"`, `"250ms"`. A bare integer is seconds (`0` is zero). No fractions, signs or
//! inner spaces; a total that does not fit in 64-bit milliseconds is refused.

use std::fmt;
use std::time::Duration;

/// What a duration must look like, for error messages.
pub const EXPECTED: &str = "a duration like \"30s\", \"5m\", \"24h\" or \"1h30m\" (units ms, s, m, h, d; a bare number is seconds)";

/// A text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {EXPECTED}, found {text:?}")]
pub struct DurationError {
    /// What was written.
    pub text: String,
}

/// Parses a duration (see the module documentation).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError {
        text: text.to_owned(),
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total_ms: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits_end == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits_end].parse().map_err(|_| bad())?;
        let after = &rest[digits_end..];
        let unit_end = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let ms_per = match &after[..unit_end] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        let part = n.checked_mul(ms_per).ok_or_else(bad)?;
        total_ms = total_ms.checked_add(part).ok_or_else(bad)?;
        rest = &after[unit_end..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// A duration in its shortest exact spelling: `0s`, 90 s → `1m30s`, `24h`, 1.5 s →
/// `1s500ms` (sub-millisecond parts are dropped). [`parse`] reads it back unchanged.
pub fn display(d: Duration) -> impl fmt::Display {
    struct Shown(u128);
    impl fmt::Display for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.0 == 0 {
                return f.write_str("0s");
            }
            let mut rest = self.0;
            for (unit, ms) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
                let n = rest / ms;
                if n > 0 {
                    write!(f, "{n}{unit}")?;
                    rest -= n * ms;
                }
            }
            Ok(())
        }
    }
    Shown(d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> Result<u128, DurationError> {
        parse(text).map(|d| d.as_millis())
    }

    #[test]
    fn go_forms_units_and_bare_seconds() {
        for (text, want) in [
            ("30s", 30_000),
            ("5m", 300_000),
            ("24h", 86_400_000),
            ("1h30m", 5_400_000),
            ("250ms", 250),
            ("2d", 172_800_000),
            ("0", 0),
            ("0s", 0),
            ("90", 90_000),
            (" 45m ", 2_700_000),
        ] {
            assert_eq!(ms(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn everything_else_is_refused_with_the_expected_form() {
        for bad in [
            "",
            "5x",
            "m5",
            "1.5h",
            "-1s",
            "5 m",
            "h",
            "5 weeks",
            "99999999999999999999h",
            "18446744073709551615d",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.text, bad);
            assert!(
                e.to_string().contains("expected a duration like"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn display_is_shortest_and_reads_back() {
        for (text, shown) in [
            ("90s", "1m30s"),
            ("24h", "24h"),
            ("0", "0s"),
            ("1500ms", "1s500ms"),
            ("2d", "48h"),
        ] {
            let d = parse(text).unwrap();
            assert_eq!(display(d).to_string(), shown);
            assert_eq!(parse(shown), Ok(d));
        }
    }
}
