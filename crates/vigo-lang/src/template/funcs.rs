//! The built-in functions, as Go's `text/template` defines them.

use serde_json::Value;

use super::eval::{format_value, truthy};

/// Every function name.
pub(crate) const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "print",
    "printf", "println", "html", "js", "urlquery",
];

/// Whether `name` is a built-in function.
pub(crate) fn is_function(name: &str) -> bool {
    NAMES.contains(&name)
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => num(a)
            .zip(num(b))
            .and_then(|(x, y)| x.partial_cmp(&y))
            .ok_or_else(|| "incomparable numbers".to_owned()),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            kind(a),
            kind(b)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => Ok(num(a) == num(b)),
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(a == b),
        (Value::Null, _) | (_, Value::Null) => Ok(false),
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            kind(a),
            kind(b)
        )),
    }
}

fn index_into<'v>(v: &'v Value, key: &Value) -> Result<&'v Value, String> {
    match (v, key) {
        (Value::Array(items), Value::Number(n)) => {
            let i = n.as_i64().ok_or("index must be an integer")?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        (Value::Object(m), Value::String(k)) => m
            .get(k)
            .ok_or_else(|| format!("map has no entry for key \"{k}\"")),
        (Value::String(_), _) => Err("cannot index a string here".into()),
        (other, k) => Err(format!(
            "can't index item of type {} with {}",
            kind(other),
            kind(k)
        )),
    }
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        out.push_str(&format_value(a));
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %g %e %t %q %x %X %o %b %c
/// %%`, with flags `-+ 0#`, width and precision.
pub(crate) fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let (mut minus, mut zero, mut plus) = (false, false, false);
        while i < chars.len() && matches!(chars[i], '-' | '0' | '+' | ' ' | '#') {
            match chars[i] {
                '-' => minus = true,
                '0' => zero = true,
                '+' => plus = true,
                _ => {}
            }
            i += 1;
        }
        let mut width = None;
        let s0 = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i > s0 {
            width = chars[s0..i]
                .iter()
                .collect::<String>()
                .parse::<usize>()
                .ok();
        }
        let mut prec = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let p0 = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            prec = Some(
                chars[p0..i]
                    .iter()
                    .collect::<String>()
                    .parse::<usize>()
                    .unwrap_or(0),
            );
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let body = match (verb, arg) {
            ('d', Value::Number(n)) => {
                let v = n.as_i64().map_or_else(
                    || format!("{}", n.as_f64().unwrap_or(0.0) as i64),
                    |v| v.to_string(),
                );
                if plus && !v.starts_with('-') {
                    format!("+{v}")
                } else {
                    v
                }
            }
            ('f' | 'F', Value::Number(n)) => {
                format!("{:.*}", prec.unwrap_or(6), n.as_f64().unwrap_or(0.0))
            }
            ('e', Value::Number(n)) => {
                format!("{:.*e}", prec.unwrap_or(6), n.as_f64().unwrap_or(0.0))
            }
            ('g', Value::Number(_)) => format_value(arg),
            ('x', Value::Number(n)) => format!("{:x}", n.as_i64().unwrap_or(0)),
            ('X', Value::Number(n)) => format!("{:X}", n.as_i64().unwrap_or(0)),
            ('o', Value::Number(n)) => format!("{:o}", n.as_i64().unwrap_or(0)),
            ('b', Value::Number(n)) => format!("{:b}", n.as_i64().unwrap_or(0)),
            ('c', Value::Number(n)) => n
                .as_u64()
                .and_then(|c| char::from_u32(u32::try_from(c).ok()?))
                .map(String::from)
                .unwrap_or_default(),
            ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('q', Value::String(s)) => format!("{s:?}"),
            ('t', Value::Bool(b)) => b.to_string(),
            ('s' | 'v', _) => {
                let s = format_value(arg);
                match prec {
                    Some(p) if verb == 's' => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            (v, a) => format!("%!{v}({}={})", kind(a), format_value(a)),
        };
        let len = body.chars().count();
        let padded = match width {
            Some(w) if w > len && minus => format!("{body}{}", " ".repeat(w - len)),
            Some(w) if w > len && zero && matches!(arg, Value::Number(_)) => {
                let (sign, digits) = body
                    .strip_prefix('-')
                    .map_or(("", body.as_str()), |d| ("-", d));
                format!("{sign}{}{digits}", "0".repeat(w - len))
            }
            Some(w) if w > len => format!("{}{body}", " ".repeat(w - len)),
            _ => body,
        };
        out.push_str(&padded);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        out.push_str(
            &args[next..]
                .iter()
                .map(format_value)
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push(')');
    }
    out
}

/// Calls a function other than `and`/`or` (which evaluate lazily, in `eval`).
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let need = |n: usize| {
        if args.len() < n {
            Err(format!(
                "wrong number of args for {name}: want at least {n} got {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    match name {
        "not" => {
            if args.len() != 1 {
                return Err(format!(
                    "wrong number of args for not: want 1 got {}",
                    args.len()
                ));
            }
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "len" => {
            need(1)?;
            let n = match &args[0] {
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => return Err(format!("len of type {}", kind(other))),
            };
            Ok(Value::from(n))
        }
        "index" => {
            need(1)?;
            let mut v = &args[0];
            for k in &args[1..] {
                v = index_into(v, k)?;
            }
            Ok(v.clone())
        }
        "slice" => {
            need(1)?;
            let bound = |i: usize| -> Result<usize, String> {
                args.get(i)
                    .and_then(Value::as_u64)
                    .and_then(|v| usize::try_from(v).ok())
                    .ok_or_else(|| "slice index must be a non-negative integer".to_owned())
            };
            match &args[0] {
                Value::Array(a) => {
                    let lo = if args.len() > 1 { bound(1)? } else { 0 };
                    let hi = if args.len() > 2 { bound(2)? } else { a.len() };
                    a.get(lo..hi)
                        .map(|s| Value::Array(s.to_vec()))
                        .ok_or_else(|| format!("slice [{lo}:{hi}] out of range"))
                }
                Value::String(s) => {
                    let lo = if args.len() > 1 { bound(1)? } else { 0 };
                    let hi = if args.len() > 2 { bound(2)? } else { s.len() };
                    s.get(lo..hi)
                        .map(|s| Value::String(s.to_owned()))
                        .ok_or_else(|| format!("slice [{lo}:{hi}] out of range"))
                }
                other => Err(format!("can't slice item of type {}", kind(other))),
            }
        }
        "eq" => {
            need(2)?;
            for b in &args[1..] {
                if equal(&args[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            need(2)?;
            Ok(Value::Bool(!equal(&args[0], &args[1])?))
        }
        "lt" | "le" | "gt" | "ge" => {
            need(2)?;
            let o = compare(&args[0], &args[1])?;
            use std::cmp::Ordering::{Greater, Less};
            Ok(Value::Bool(match name {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "print" => Ok(Value::String(sprint(args))),
        "println" => Ok(Value::String(format!(
            "{}\n",
            args.iter().map(format_value).collect::<Vec<_>>().join(" ")
        ))),
        "printf" => {
            need(1)?;
            let Value::String(fmt) = &args[0] else {
                return Err("printf: the format must be a string".into());
            };
            Ok(Value::String(sprintf(fmt, &args[1..])))
        }
        "html" => Ok(Value::String(
            sprint(args)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
                .replace('\0', "\u{FFFD}"),
        )),
        "js" => Ok(Value::String(
            sprint(args)
                .chars()
                .map(|c| match c {
                    '\\' => "\\\\".to_owned(),
                    '\'' => "\\'".to_owned(),
                    '"' => "\\\"".to_owned(),
                    '<' => "\\u003C".to_owned(),
                    '>' => "\\u003E".to_owned(),
                    '&' => "\\u0026".to_owned(),
                    '=' => "\\u003D".to_owned(),
                    '\n' => "\\u000A".to_owned(),
                    '\r' => "\\u000D".to_owned(),
                    c => c.to_string(),
                })
                .collect(),
        )),
        "urlquery" => Ok(Value::String(
            sprint(args)
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_owned(),
                    b => format!("%{b:02X}"),
                })
                .collect(),
        )),
        other => Err(format!("function `{other}` not defined")),
    }
}
