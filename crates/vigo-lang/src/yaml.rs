//! YAML with positions: every node and every mapping key of a `.vgo` file carries the
//! line and column it came from, so validation errors can point at the exact place.
//!
//! Parsing goes through `serde-saphyr` (panic-free, with budgets against YAML bombs) into
//! [`Node`], using its `Spanned` wrapper for positions. Numbers keep their spelling where
//! it matters: `0644` and `1_000` stay strings (a mode must not lose its leading zero).
//! Duplicate keys are an error.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{MessageFormatter as _, Spanned, UserMessageFormatter};

/// A 1-based line and column in a source file (`0:0` when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

impl Pos {
    fn of(loc: serde_saphyr::Location) -> Self {
        Pos {
            line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
            col: u32::try_from(loc.column()).unwrap_or(u32::MAX),
        }
    }
}

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: Kind,
}

/// A mapping key and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key as text (scalar keys of any type are turned into their text).
    pub name: String,
    /// Where the key is written.
    pub pos: Pos,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer or float, as JSON number.
    Number(serde_json::Number),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Key, Node)>),
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What it found.
    pub message: String,
}

/// Parses one YAML document. An empty document is [`Kind::Null`].
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::Options::default();
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    // YAML 1.2 booleans only: `name: y`, `service: on` or a host called `no` stay the
    // strings they are (the "Norway problem"); boolean attributes still take `yes`/`no`
    // through the schema.
    options.strict_booleans = true;
    if text.trim().is_empty() {
        return Ok(Node {
            pos: Pos { line: 1, col: 1 },
            kind: Kind::Null,
        });
    }
    match serde_saphyr::from_str_with_options::<Spanned<Kind>>(text, options) {
        Ok(s) => Ok(Node {
            pos: Pos::of(s.referenced),
            kind: s.value,
        }),
        Err(e) => {
            let pos = e.location().map(Pos::of).unwrap_or_default();
            Err(SyntaxError {
                pos,
                message: message_of(&e),
            })
        }
    }
}

/// The message of a serde-saphyr error, without its position (we print positions
/// ourselves) and in the words meant for the author of the file, through the library's own
/// [`UserMessageFormatter`] rather than by taking its rendered text apart. Control
/// characters (which could come from the input) become spaces.
fn message_of(e: &serde_saphyr::Error) -> String {
    UserMessageFormatter
        .format_message(e.without_snippet())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(serde_json::Number::from_f64(v).map_or_else(|| Kind::Str(v.to_string()), Kind::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(s) = seq.next_element::<Spanned<Kind>>()? {
            items.push(Node {
                pos: Pos::of(s.referenced),
                kind: s.value,
            });
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Kind>>()? {
            let name = match k.value {
                Kind::Str(s) => s,
                Kind::Null => String::new(),
                Kind::Bool(b) => b.to_string(),
                Kind::Number(n) => n.to_string(),
                Kind::Seq(_) | Kind::Map(_) => {
                    return Err(de::Error::custom("a mapping key must be a scalar"));
                }
            };
            let v = map.next_value::<Spanned<Kind>>()?;
            entries.push((
                Key {
                    name,
                    pos: Pos::of(k.referenced),
                },
                Node {
                    pos: Pos::of(v.referenced),
                    kind: v.value,
                },
            ));
        }
        Ok(Kind::Map(entries))
    }
}

impl Node {
    /// The node as plain JSON (positions dropped).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => Value::Number(n.clone()),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The entries when this is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` when this is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The position of `key` in this mapping, or the node's own position.
    pub fn key_pos(&self, key: &str) -> Pos {
        self.as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.name == key))
            .map_or(self.pos, |(k, _)| k.pos)
    }

    /// The text of a scalar: strings as they are, numbers and booleans as written.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Number(n) => Some(n.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// A word for the node's type, for "expected X, found Y" messages.
    pub fn type_word(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "nothing",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let n = parse("a: 1\nb:\n  - x\n  - {c: true}\n").unwrap();
        assert_eq!(n.key_pos("b"), Pos { line: 2, col: 1 });
        let b = n.get("b").unwrap();
        let Kind::Seq(items) = &b.kind else { panic!() };
        assert_eq!(items[0].pos, Pos { line: 3, col: 5 });
        assert_eq!(items[1].get("c").unwrap().kind, Kind::Bool(true));
        assert_eq!(items[1].key_pos("c"), Pos { line: 4, col: 6 });
    }

    #[test]
    fn modes_keep_their_leading_zero() {
        let n = parse("name: y\ncountry: no\nflag: true\n").unwrap();
        assert_eq!(n.get("name").unwrap().kind, Kind::Str("y".into()));
        assert_eq!(n.get("country").unwrap().kind, Kind::Str("no".into()));
        assert_eq!(n.get("flag").unwrap().kind, Kind::Bool(true));
        let n = parse("mode: 0644\nuid: 1500\nbig: 1_000\n").unwrap();
        assert_eq!(n.get("mode").unwrap().kind, Kind::Str("0644".into()));
        assert_eq!(n.get("uid").unwrap().kind, Kind::Number(1500.into()));
        assert_eq!(n.get("big").unwrap().kind, Kind::Str("1_000".into()));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
        assert!(!e.message.is_empty());
        let dup = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(dup.pos.line, 2, "{dup:?}");
        assert!(dup.message.contains("duplicate"), "{dup:?}");
    }

    #[test]
    fn empty_is_null() {
        assert_eq!(parse("  \n").unwrap().kind, Kind::Null);
        assert_eq!(parse("# only a comment\n").unwrap().kind, Kind::Null);
    }
}
