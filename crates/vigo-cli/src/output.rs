//! What the commands print: human tables (comfy-table), the API's JSON with `--json`,
//! times, durations and colour (only on a terminal, never with `NO_COLOR`; anstream
//! strips the escapes otherwise).

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// Whether colour may be used on stdout.
pub fn colour_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the answer as JSON: {e}"),
    }
}

/// A table with `header`, ready for rows.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if !colour_stdout() {
        t.force_no_tty();
    }
    t
}

/// Prints a table, or `empty` (to stderr) when it has no rows.
pub fn print_table(t: &Table, empty: &str) {
    if t.row_count() == 0 {
        eprintln!("{empty}");
    } else {
        println!("{t}");
    }
}

/// What a cell shows for a field the API leaves `null` (or empty): `-`.
pub const NONE: &str = "-";

/// An optional text field: the text, or `-` when `null` or empty.
pub fn opt(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => NONE.to_owned(),
    }
}

/// A text field that is never `null` on the wire, `-` when empty.
pub fn text(s: &str) -> String {
    opt(Some(s))
}

/// An optional Unix time as `YYYY-MM-DD HH:MM:SSZ`, `-` when `null`.
pub fn opt_time(secs: Option<i64>) -> String {
    secs.map_or_else(|| NONE.to_owned(), format_unix)
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Names joined with `, `, `-` for none.
pub fn join(items: &[String]) -> String {
    if items.is_empty() {
        NONE.to_owned()
    } else {
        items.join(", ")
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SSZ`.
pub fn format_unix(secs: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// Microseconds as a short human duration (`850µs`, `12.3ms`, `4.20s`, `3m05s`).
pub fn duration_micros(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros}µs"),
        1_000..1_000_000 => format!("{:.1}ms", micros as f64 / 1_000.0),
        1_000_000..60_000_000 => format!("{:.2}s", micros as f64 / 1_000_000.0),
        _ => {
            let secs = micros / 1_000_000;
            format!("{}m{:02}s", secs / 60, secs % 60)
        }
    }
}

/// A value shown in a table cell: strings bare, everything else as compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Two-column key/value lines for one object (`Key:  value`, aligned).
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{:<width$} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_are_readable() {
        assert_eq!(format_unix(0), "1970-01-01 00:00:00Z");
        assert_eq!(opt_time(None), "-");
        assert_eq!(duration_micros(850), "850µs");
        assert_eq!(duration_micros(1_200), "1.2ms");
        assert_eq!(duration_micros(2_000_000), "2.00s");
        assert_eq!(duration_micros(185_000_000), "3m05s");
        assert_eq!(opt(None), "-");
        assert_eq!(opt(Some("")), "-");
        assert_eq!(join(&[]), "-");
    }
}
