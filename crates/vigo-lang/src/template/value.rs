//! Values during evaluation: borrowed from the data (no copy of `.` per access), literals
//! from the template, or computed; each knows whether it derives from a secret.
//!
//! JSON maps to Go's types as `encoding/json` would decode it, except that integers are
//! `int` (not `float64`): null is `nil`, strings `string`, integers `int` (`uint64` beyond
//! `int`'s range), other numbers `float64`, lists `[]interface {}`, objects
//! `map[string]interface {}`.

use std::rc::Rc;

use serde_json::{Map, Value};

use crate::secret::{MARKER_END, MARKER_START};

/// Text held by a value: borrowed from the template or data, or computed and shared.
#[derive(Debug, Clone)]
pub(crate) enum Text<'a> {
    Borrowed(&'a str),
    Shared(Rc<str>),
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Shared(s) => s,
        }
    }
}

/// What a value is.
#[derive(Debug, Clone)]
pub(crate) enum Kind<'a> {
    /// Go's invalid value / nil interface: JSON null, `nil`, a missing `index` key.
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    /// A byte of a string (`index "abc" 0`), Go's `uint8`.
    Byte(u8),
    Float(f64),
    Str(Text<'a>),
    List(&'a [Value]),
    Map(&'a Map<String, Value>),
}

/// A value and whether it derives from a secret.
#[derive(Debug, Clone)]
pub(crate) struct Val<'a> {
    pub(crate) kind: Kind<'a>,
    pub(crate) tainted: bool,
}

impl<'a> Val<'a> {
    /// An untainted value.
    pub(crate) fn new(kind: Kind<'a>) -> Self {
        Val {
            kind,
            tainted: false,
        }
    }

    pub(crate) fn nil() -> Self {
        Val::new(Kind::Nil)
    }

    /// A computed string.
    pub(crate) fn string(s: String, tainted: bool) -> Self {
        Val {
            kind: Kind::Str(Text::Shared(s.into())),
            tainted,
        }
    }

    /// The same value, tainted if `taint`.
    pub(crate) fn taint(mut self, taint: bool) -> Self {
        self.tainted |= taint;
        self
    }

    /// Go's truth: false, 0, "", nil and empty lists and maps are false.
    pub(crate) fn truth(&self) -> bool {
        match &self.kind {
            Kind::Nil => false,
            Kind::Bool(b) => *b,
            Kind::Int(i) => *i != 0,
            Kind::Uint(u) => *u != 0,
            Kind::Byte(b) => *b != 0,
            Kind::Float(f) => *f != 0.0,
            Kind::Str(s) => !s.as_str().is_empty(),
            Kind::List(l) => !l.is_empty(),
            Kind::Map(m) => !m.is_empty(),
        }
    }

    /// Go's type name, as `%T` prints it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Nil => "<nil>",
            Kind::Bool(_) => "bool",
            Kind::Int(_) => "int",
            Kind::Uint(_) => "uint64",
            Kind::Byte(_) => "uint8",
            Kind::Float(_) => "float64",
            Kind::Str(_) => "string",
            Kind::List(_) => "[]interface {}",
            Kind::Map(_) => "map[string]interface {}",
        }
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// A secret marker names a path the resolver did not know.
#[derive(Debug)]
pub(crate) struct UnresolvedSecret(pub(crate) String);

/// Turns data into values: substitutes secret markers (when rendering with secrets) at the
/// moment a string is read, tainting it.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'s> {
    pub(crate) secrets: Option<SecretFn<'s>>,
}

/// Looks up a secret's value by its path.
pub(crate) type SecretFn<'s> = &'s dyn Fn(&str) -> Option<String>;

impl Reader<'_> {
    /// A string read from the data.
    pub(crate) fn text<'a>(&self, s: &'a str) -> Result<Val<'a>, UnresolvedSecret> {
        let Some(secret) = self.secrets else {
            return Ok(Val::new(Kind::Str(Text::Borrowed(s))));
        };
        if !s.contains(MARKER_START) {
            return Ok(Val::new(Kind::Str(Text::Borrowed(s))));
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        let mut tainted = false;
        while let Some(i) = rest.find(MARKER_START) {
            let after = &rest[i + MARKER_START.len()..];
            let Some(end) = after.find(MARKER_END) else {
                break;
            };
            let path = &after[..end];
            let value = secret(path).ok_or_else(|| UnresolvedSecret(path.to_owned()))?;
            out.push_str(&rest[..i]);
            out.push_str(&value);
            tainted = true;
            rest = &after[end + MARKER_END.len()..];
        }
        out.push_str(rest);
        Ok(Val::string(out, tainted))
    }

    /// A JSON value as a template value.
    pub(crate) fn json<'a>(&self, v: &'a Value) -> Result<Val<'a>, UnresolvedSecret> {
        Ok(Val::new(match v {
            Value::Null => Kind::Nil,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Kind::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Kind::Uint(u)
                } else {
                    Kind::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => return self.text(s),
            Value::Array(a) => Kind::List(a),
            Value::Object(m) => Kind::Map(m),
        }))
    }
}

/// A map's entries in key order (Go sorts map keys when ranging and printing).
pub(crate) fn sorted_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    if !entries.windows(2).all(|w| w[0].0 <= w[1].0) {
        entries.sort_by(|a, b| a.0.cmp(b.0));
    }
    entries
}
