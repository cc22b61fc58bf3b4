//! The cron schedule grammar (Vixie cron, as Debian's `cron` reads `/etc/cron.d`), one
//! definition for publish-time validation (vigo-lang) and the agent's `cron` executor
//! (vigo-exec), so a schedule that publishes is one cron accepts.
//!
//! A schedule is one of [`KEYWORDS`] or five fields — minute, hour, day of month, month,
//! day of week — each a comma-separated list of items: `*`, a number, a range `a-b`,
//! optionally with a step (`*/5`, `1-30/2`); month and weekday also take names (`jan`,
//! `mon`, case-insensitive). Every number is checked against its field's range
//! (`99 99 * * *` is refused, naming the field and the range).

use std::fmt;

/// The `@` shortcuts cron understands in place of five fields.
pub const KEYWORDS: &[&str] = &[
    "@reboot",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// One of the five fields of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// 0–59.
    Minute,
    /// 0–23.
    Hour,
    /// 1–31.
    Day,
    /// 1–12 or `jan`–`dec`.
    Month,
    /// 0–7 (0 and 7 are Sunday) or `sun`–`sat`.
    Weekday,
}

impl Field {
    /// The five fields in schedule order.
    pub const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::Day,
        Field::Month,
        Field::Weekday,
    ];

    /// The attribute name of the `cron` type (`minute`, …, `weekday`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::Day => "day",
            Field::Month => "month",
            Field::Weekday => "weekday",
        }
    }

    /// The smallest and largest value.
    pub fn range(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::Day => (1, 31),
            Field::Month => (1, 12),
            Field::Weekday => (0, 7),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            Field::Weekday => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            _ => &[],
        }
    }

    fn value(self, text: &str) -> Result<u32, CronError> {
        let (lo, hi) = self.range();
        if let Some(i) = self
            .names()
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
        {
            let first = if self == Field::Month { 1 } else { 0 };
            return Ok(first + i as u32);
        }
        let n: u32 = text
            .parse()
            .ok()
            .filter(|_| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| self.error(text, "is not a number"))?;
        if n < lo || n > hi {
            return Err(self.error(text, &format!("is out of range {lo}-{hi}")));
        }
        Ok(n)
    }

    fn error(self, item: &str, what: &str) -> CronError {
        let names = match self {
            Field::Month => " or jan-dec",
            Field::Weekday => " or sun-sat",
            _ => "",
        };
        let (lo, hi) = self.range();
        CronError {
            field: Some(self),
            message: format!(
                "{} `{item}` {what}: expected *, {lo}-{hi}{names}, a range a-b, a list a,b or a step */n",
                self.name()
            ),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a schedule or field is not one cron accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronError {
    /// The field at fault (`None`: the schedule's shape).
    pub field: Option<Field>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Checks a whole schedule: a keyword or five valid fields.
pub fn check_schedule(schedule: &str) -> Result<(), CronError> {
    let s = schedule.trim();
    if s.starts_with('@') {
        return if KEYWORDS.contains(&s) {
            Ok(())
        } else {
            Err(CronError {
                field: None,
                message: format!(
                    "unknown shortcut `{s}`: expected one of {}",
                    KEYWORDS.join(", ")
                ),
            })
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(CronError {
            field: None,
            message: format!(
                "expected 5 fields (minute hour day month weekday) or one of {}, found \"{s}\"",
                KEYWORDS.join(", ")
            ),
        });
    }
    for (field, text) in Field::ALL.into_iter().zip(fields) {
        check_field(field, text)?;
    }
    Ok(())
}

/// Checks one field's text.
pub fn check_field(field: Field, text: &str) -> Result<(), CronError> {
    if text.is_empty() {
        return Err(field.error(text, "is empty"));
    }
    for item in text.split(',') {
        check_item(field, item)?;
    }
    Ok(())
}

fn check_item(field: Field, item: &str) -> Result<(), CronError> {
    let (base, step) = match item.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (item, None),
    };
    let (lo, hi) = field.range();
    if base != "*" {
        if let Some((a, b)) = base.split_once('-') {
            if field.value(a)? > field.value(b)? {
                return Err(field.error(item, "is a range that ends before it starts"));
            }
        } else {
            // A single value; with a step, Vixie cron reads `5/10` as `5-max/10`.
            field.value(base)?;
        }
    }
    if let Some(step) = step {
        let n: u32 = step
            .parse()
            .ok()
            .filter(|_| !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| field.error(item, "has a step that is not a number"))?;
        if n == 0 || n > hi - lo + 1 {
            return Err(field.error(item, &format!("has a step out of range 1-{}", hi - lo + 1)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_cron_accepts() {
        for ok in [
            "* * * * *",
            "30 2 * * *",
            "*/5 * * * 1-5",
            "0 3 * * mon",
            "0 0 1 jan,jul *",
            "0-59/15 0,12 1-31 1-12 0-7",
            "5/10 * * * SUN",
            "@daily",
            " @hourly ",
        ] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn out_of_range_and_malformed_fields_are_named() {
        let e = check_schedule("99 99 * * *").unwrap_err();
        assert_eq!(e.field, Some(Field::Minute));
        assert!(
            e.message.contains("minute `99` is out of range 0-59"),
            "{e}"
        );
        let e = check_schedule("0 24 * * *").unwrap_err();
        assert_eq!(e.field, Some(Field::Hour));
        for (bad, field, words) in [
            ("0 0 0 * *", Field::Day, "out of range 1-31"),
            ("0 0 * 13 *", Field::Month, "out of range 1-12"),
            ("0 0 * * 8", Field::Weekday, "out of range 0-7"),
            ("0 0 * * funday", Field::Weekday, "is not a number"),
            ("*/0 * * * *", Field::Minute, "step out of range"),
            ("*/61 * * * *", Field::Minute, "step out of range"),
            ("30-10 * * * *", Field::Minute, "ends before it starts"),
            ("1,,2 * * * *", Field::Minute, "is not a number"),
            ("2;rm * * * *", Field::Minute, "is not a number"),
        ] {
            let e = check_schedule(bad).unwrap_err();
            assert_eq!(e.field, Some(field), "{bad}: {e}");
            assert!(e.message.contains(words), "{bad}: {e}");
        }
        let e = check_schedule("0 3 * *").unwrap_err();
        assert_eq!(e.field, None);
        assert!(e.message.contains("expected 5 fields"), "{e}");
        assert!(
            check_schedule("@fortnightly")
                .unwrap_err()
                .message
                .contains("unknown shortcut")
        );
    }
}
