//! The built-in functions, as Go's `text/template/funcs.go` defines them, on evaluated
//! operands (`and` and `or`, which evaluate lazily, live in `exec`). A result derives from
//! a secret when any operand does.

use std::cmp::Ordering;

use super::escape;
use super::format::{FmtError, Printer};
use super::value::{Kind, Reader, Text, Val};

/// Every function name.
pub(crate) const NAMES: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

/// How many operands a function takes.
pub(crate) enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// At least this many.
    AtLeast(usize),
}

/// The operand count of function `name`.
pub(crate) fn arity(name: &str) -> Arity {
    match name {
        "not" | "len" => Arity::Exactly(1),
        "ne" | "lt" | "le" | "gt" | "ge" => Arity::Exactly(2),
        "print" | "println" | "html" | "js" | "urlquery" => Arity::AtLeast(0),
        _ => Arity::AtLeast(1),
    }
}

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Go's error text (operand values shown only when not from a secret).
    Msg(String),
    /// Formatting failed.
    Fmt(FmtError),
}

impl From<FmtError> for CallError {
    fn from(e: FmtError) -> Self {
        CallError::Fmt(e)
    }
}

impl From<String> for CallError {
    fn from(m: String) -> Self {
        CallError::Msg(m)
    }
}

type R<'a> = Result<Val<'a>, CallError>;

/// `%v` of an operand for an error message, or `[sensitive]`.
pub(crate) fn shown(v: &Val<'_>, reader: Reader<'_>) -> String {
    if v.tainted {
        return "[sensitive]".into();
    }
    let mut p = Printer::new(reader, 200);
    match p.sprint(std::slice::from_ref(v)) {
        Ok(()) => {
            let (s, tainted) = p.finish();
            if tainted { "[sensitive]".into() } else { s }
        }
        Err(_) => format!("a {}", v.type_name()),
    }
}

fn any_tainted(args: &[Val<'_>]) -> bool {
    args.iter().any(|a| a.tainted)
}

/// Go's basic kinds for comparison.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Basic {
    Bool,
    Int,
    Uint,
    Float,
    String,
    Other,
}

fn basic(v: &Val<'_>) -> Basic {
    match v.kind {
        Kind::Bool(_) => Basic::Bool,
        Kind::Int(_) => Basic::Int,
        Kind::Uint(_) | Kind::Byte(_) => Basic::Uint,
        Kind::Float(_) => Basic::Float,
        Kind::Str(_) => Basic::String,
        Kind::Nil | Kind::List(_) | Kind::Map(_) => Basic::Other,
    }
}

fn int_of(v: &Val<'_>) -> i64 {
    match v.kind {
        Kind::Int(i) => i,
        _ => 0,
    }
}

fn uint_of(v: &Val<'_>) -> u64 {
    match v.kind {
        Kind::Uint(u) => u,
        Kind::Byte(b) => u64::from(b),
        _ => 0,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq_one(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    let (k1, k2) = (basic(a), basic(b));
    if k1 != k2 {
        return match (k1, k2) {
            (Basic::Int, Basic::Uint) => Ok(int_of(a) >= 0 && int_of(a) as u64 == uint_of(b)),
            (Basic::Uint, Basic::Int) => Ok(int_of(b) >= 0 && uint_of(a) == int_of(b) as u64),
            _ if matches!(a.kind, Kind::Nil) || matches!(b.kind, Kind::Nil) => Ok(false),
            _ => Err(BAD_COMPARISON.into()),
        };
    }
    Ok(match (&a.kind, &b.kind) {
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (Kind::Float(x), Kind::Float(y)) => x == y,
        (Kind::Int(x), Kind::Int(y)) => x == y,
        (Kind::Str(x), Kind::Str(y)) => x.as_str() == y.as_str(),
        _ if k1 == Basic::Uint => uint_of(a) == uint_of(b),
        (Kind::Nil, _) | (_, Kind::Nil) => {
            matches!(a.kind, Kind::Nil) && matches!(b.kind, Kind::Nil)
        }
        (Kind::List(_), Kind::List(_)) => {
            return Err("non-comparable type []interface {}".into());
        }
        (Kind::Map(_), Kind::Map(_)) => {
            return Err("non-comparable type map[string]interface {}".into());
        }
        _ => {
            return Err(format!(
                "non-comparable types {} and {}",
                a.type_name(),
                b.type_name()
            ));
        }
    })
}

fn lt(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    let (k1, k2) = (basic(a), basic(b));
    if k1 == Basic::Other || k2 == Basic::Other {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Basic::Int, Basic::Uint) => Ok(int_of(a) < 0 || (int_of(a) as u64) < uint_of(b)),
            (Basic::Uint, Basic::Int) => Ok(int_of(b) >= 0 && uint_of(a) < int_of(b) as u64),
            _ => Err(BAD_COMPARISON.into()),
        };
    }
    Ok(match (&a.kind, &b.kind) {
        (Kind::Bool(_), _) => return Err(BAD_COMPARISON_TYPE.into()),
        (Kind::Float(x), Kind::Float(y)) => x.partial_cmp(y) == Some(Ordering::Less),
        (Kind::Int(x), Kind::Int(y)) => x < y,
        (Kind::Str(x), Kind::Str(y)) => x.as_str() < y.as_str(),
        _ => uint_of(a) < uint_of(b),
    })
}

/// An integer operand of `index` or `slice`.
fn index_arg(v: &Val<'_>, cap: usize) -> Result<usize, String> {
    let x: i128 = match v.kind {
        Kind::Int(i) => i128::from(i),
        Kind::Uint(u) => i128::from(u),
        Kind::Byte(b) => i128::from(b),
        Kind::Nil => return Err("cannot index slice/array with nil".into()),
        _ => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            ));
        }
    };
    let shown = if v.tainted {
        "[sensitive]".to_owned()
    } else {
        x.to_string()
    };
    match usize::try_from(x) {
        Ok(i) if i <= cap => Ok(i),
        _ => Err(format!("index out of range: {shown}")),
    }
}

fn index<'a>(args: &[Val<'a>], reader: Reader<'_>) -> R<'a> {
    let taint = any_tainted(args);
    let mut item = args[0].clone();
    if matches!(item.kind, Kind::Nil) {
        return Err("index of untyped nil".to_owned().into());
    }
    for (n, key) in args[1..].iter().enumerate() {
        item = match &item.kind {
            Kind::Nil if n > 0 => return Err("index of nil pointer".to_owned().into()),
            Kind::List(l) => {
                let i = index_arg(key, l.len())?;
                let v = l
                    .get(i)
                    .ok_or_else(|| format!("index out of range: {}", shown(key, reader)))?;
                reader.json(v).map_err(FmtError::from)?
            }
            Kind::Str(s) => {
                let b = s.as_str().as_bytes();
                let i = index_arg(key, b.len())?;
                let byte = b
                    .get(i)
                    .ok_or_else(|| format!("index out of range: {}", shown(key, reader)))?;
                Val::new(Kind::Byte(*byte))
            }
            Kind::Map(m) => {
                let k = match &key.kind {
                    Kind::Str(k) => k.as_str(),
                    Kind::Nil => {
                        return Err("value is nil; should be of type string".to_owned().into());
                    }
                    _ => {
                        return Err(format!(
                            "value has type {}; should be string",
                            key.type_name()
                        )
                        .into());
                    }
                };
                match m.get(k) {
                    Some(v) => reader.json(v).map_err(FmtError::from)?,
                    None => Val::nil(),
                }
            }
            _ => return Err(format!("can't index item of type {}", item.type_name()).into()),
        };
    }
    Ok(item.taint(taint))
}

fn slice<'a>(args: &[Val<'a>]) -> R<'a> {
    let taint = any_tainted(args);
    let item = &args[0];
    let indexes = &args[1..];
    if matches!(item.kind, Kind::Nil) {
        return Err("slice of untyped nil".to_owned().into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()).into());
    }
    let len = match &item.kind {
        Kind::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_owned().into());
            }
            s.as_str().len()
        }
        Kind::List(l) => l.len(),
        _ => return Err(format!("can't slice item of type {}", item.type_name()).into()),
    };
    let mut idx = [0, len, len];
    for (i, x) in indexes.iter().enumerate() {
        idx[i] = index_arg(x, len)?;
    }
    // Indexes computed from a secret are not shown.
    let shown_index = |i: usize| {
        if indexes.iter().any(|x| x.tainted) {
            "[sensitive]".to_owned()
        } else {
            idx[i].to_string()
        }
    };
    if idx[0] > idx[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            shown_index(0),
            shown_index(1)
        )
        .into());
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!(
            "invalid slice index: {} > {}",
            shown_index(1),
            shown_index(2)
        )
        .into());
    }
    let (lo, hi) = (idx[0], idx[1]);
    Ok(match &item.kind {
        Kind::List(l) => Val::new(Kind::List(&l[lo..hi])),
        Kind::Str(s) => {
            let text = s.as_str();
            if !text.is_char_boundary(lo) || !text.is_char_boundary(hi) {
                return Err(format!(
                    "slice [{}:{}] would split a UTF-8 character (Vigo strings are text)",
                    shown_index(0),
                    shown_index(1)
                )
                .into());
            }
            match s {
                Text::Borrowed(b) => Val::new(Kind::Str(Text::Borrowed(&b[lo..hi]))),
                Text::Shared(r) => Val::string(r[lo..hi].to_owned(), false),
            }
        }
        _ => unreachable!("checked above"),
    }
    .taint(taint))
}

fn length<'a>(v: &Val<'a>) -> R<'a> {
    let n = match &v.kind {
        Kind::Str(s) => s.as_str().len(),
        Kind::List(l) => l.len(),
        Kind::Map(m) => m.len(),
        Kind::Nil => return Err("len of nil pointer".to_owned().into()),
        _ => return Err(format!("len of type {}", v.type_name()).into()),
    };
    Ok(Val::new(Kind::Int(i64::try_from(n).unwrap_or(i64::MAX))).taint(v.tainted))
}

/// Go's `evalArgs` for the escapers: one string as is, else `Sprint` with nil shown as
/// `<no value>`.
fn escaper_text(
    args: &[Val<'_>],
    reader: Reader<'_>,
    limit: usize,
) -> Result<(String, bool), CallError> {
    if let [v] = args
        && let Some(s) = v.as_str()
    {
        return Ok((s.to_owned(), v.tainted));
    }
    let shown: Vec<Val<'_>> = args
        .iter()
        .map(|a| match a.kind {
            Kind::Nil => Val::new(Kind::Str(Text::Borrowed("<no value>"))).taint(a.tainted),
            _ => a.clone(),
        })
        .collect();
    let mut p = Printer::new(reader, limit);
    p.sprint(&shown)?;
    Ok(p.finish())
}

/// Calls `name` (anything but `and`/`or`) on evaluated operands; `limit` bounds the text a
/// function may produce.
pub(crate) fn call<'a>(name: &str, args: &[Val<'a>], reader: Reader<'_>, limit: usize) -> R<'a> {
    let taint = any_tainted(args);
    let bool_val = |b: bool| Val::new(Kind::Bool(b)).taint(taint);
    match name {
        "not" => Ok(bool_val(!args[0].truth())),
        "len" => length(&args[0]),
        "index" => index(args, reader),
        "slice" => slice(args),
        "call" => Err(match args[0].kind {
            Kind::Nil => "call of nil".to_owned().into(),
            _ => format!("non-function of type {}", args[0].type_name()).into(),
        }),
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".to_owned().into());
            }
            for b in &args[1..] {
                if eq_one(&args[0], b)? {
                    return Ok(bool_val(true));
                }
            }
            Ok(bool_val(false))
        }
        "ne" => Ok(bool_val(!eq_one(&args[0], &args[1])?)),
        "lt" => Ok(bool_val(lt(&args[0], &args[1])?)),
        "le" => Ok(bool_val(
            lt(&args[0], &args[1])? || eq_one(&args[0], &args[1])?,
        )),
        "gt" => Ok(bool_val(
            !(lt(&args[0], &args[1])? || eq_one(&args[0], &args[1])?),
        )),
        "ge" => Ok(bool_val(!lt(&args[0], &args[1])?)),
        "print" | "println" | "printf" => {
            let mut p = Printer::new(reader, limit);
            match name {
                "print" => p.sprint(args)?,
                "println" => p.sprintln(args)?,
                _ => {
                    let format = args[0].as_str().unwrap_or_default();
                    p.sprintf(format, &args[1..])?;
                }
            }
            let (s, tainted) = p.finish();
            Ok(Val::string(s, tainted || taint))
        }
        "html" | "js" | "urlquery" => {
            let (s, tainted) = escaper_text(args, reader, limit)?;
            let out = match name {
                "html" => escape::html(&s),
                "js" => escape::js(&s),
                _ => escape::urlquery(&s),
            };
            if out.len() > limit {
                return Err(FmtError::TooLarge(limit).into());
            }
            Ok(Val::string(out, tainted || taint))
        }
        other => Err(format!("function `{other}` not defined").into()),
    }
}
