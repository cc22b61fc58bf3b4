//! What the commands print: human tables (comfy-table), the API's JSON with `--json`,
//! times, durations and colour (only on a terminal, never with `NO_COLOR`; anstream
//! strips the escapes otherwise).

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// Whether colour may be used on stdout.
pub fn colour_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(_) => println!("{value}"),
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

/// A string field of an object (`-` when missing or null).
pub fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A Unix-seconds field as `YYYY-MM-DD HH:MM:SS` UTC (`-` when missing or null).
pub fn time(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_i64)
        .map_or_else(|| "-".to_owned(), format_unix)
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

/// A `duration_micros` field, `-` when missing.
pub fn duration_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_u64)
        .map_or_else(|| "-".to_owned(), duration_micros)
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
        assert_eq!(duration_micros(850), "850µs");
        assert_eq!(duration_micros(1_200), "1.2ms");
        assert_eq!(duration_micros(2_000_000), "2.00s");
        assert_eq!(duration_micros(185_000_000), "3m05s");
        assert_eq!(text(&serde_json::json!({"a": null}), "a"), "-");
    }
}
