//! The trait model as data: every collector's output type describes its fields (name,
//! type, doc line) through [`Describe`], generated from the struct itself by
//! [`trait_struct!`](crate::trait_struct). From that one description come the field list
//! that `when:` and templates may read (checked at publish and by `vigo traits PATH`, with
//! a did-you-mean) and the tables of `docs/traits.md`.

use std::collections::BTreeMap;

/// What a trait value is.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Integer,
    /// A number with a fraction.
    Number,
    /// A string.
    Text,
    /// A list of values of one shape (indexed by position).
    List(fn() -> Shape),
    /// Values of one shape keyed by a name the host decides (a device, a mountpoint).
    Map(fn() -> Shape),
    /// Named fields.
    Object(&'static [Field]),
}

/// One field of an object.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The Rust identifier (`r#type` for `type`); see [`Field::name`].
    pub ident: &'static str,
    /// Its doc comment, as one line.
    pub doc: &'static str,
    /// What it holds.
    pub shape: fn() -> Shape,
    /// Omitted (or null) when the host does not say.
    pub optional: bool,
}

impl Field {
    /// The name templates and `when:` use (the JSON key).
    pub fn name(&self) -> &'static str {
        self.ident.strip_prefix("r#").unwrap_or(self.ident)
    }

    /// The doc line, trimmed.
    pub fn doc(&self) -> &'static str {
        self.doc.trim()
    }
}

/// A type whose trait shape is known.
pub trait Describe {
    /// Its shape.
    fn shape() -> Shape;
    /// Whether a value may be absent.
    const OPTIONAL: bool = false;
}

macro_rules! describe_as {
    ($shape:ident: $($t:ty),*) => {
        $(impl Describe for $t {
            fn shape() -> Shape {
                Shape::$shape
            }
        })*
    };
}
describe_as!(Integer: u8, u16, u32, u64, usize, i32, i64);
describe_as!(Number: f64);
describe_as!(Text: String);
describe_as!(Bool: bool);

impl<T: Describe> Describe for Option<T> {
    fn shape() -> Shape {
        T::shape()
    }
    const OPTIONAL: bool = true;
}

impl<T: Describe> Describe for Vec<T> {
    fn shape() -> Shape {
        Shape::List(T::shape)
    }
}

impl<T: Describe> Describe for BTreeMap<String, T> {
    fn shape() -> Shape {
        Shape::Map(T::shape)
    }
}

impl Shape {
    /// The type as the docs name it: `string`, `list of integer`, `map of object`.
    pub fn type_name(&self) -> String {
        match self {
            Shape::Bool => "bool".into(),
            Shape::Integer => "integer".into(),
            Shape::Number => "number".into(),
            Shape::Text => "string".into(),
            Shape::List(inner) => format!("list of {}", inner().type_name()),
            Shape::Map(inner) => format!("map of {}", inner().type_name()),
            Shape::Object(_) => "object".into(),
        }
    }

    /// Follows `segments` (`["interfaces", "eth0", "mtu"]`) down this shape: a map takes
    /// any key, a list any index, an object only its fields. What is past a scalar is an
    /// error too.
    pub fn lookup<'s>(&self, segments: &[&'s str]) -> Result<Shape, UnknownField<'s>> {
        let mut shape = *self;
        for (i, seg) in segments.iter().enumerate() {
            shape = match shape {
                Shape::Map(inner) => inner(),
                Shape::List(inner) if seg.parse::<usize>().is_ok() => inner(),
                Shape::Object(fields) => match fields.iter().find(|f| f.name() == *seg) {
                    Some(f) => (f.shape)(),
                    None => {
                        return Err(UnknownField {
                            depth: i,
                            segment: seg,
                            candidates: fields.iter().map(Field::name).collect(),
                        });
                    }
                },
                _ => {
                    return Err(UnknownField {
                        depth: i,
                        segment: seg,
                        candidates: Vec::new(),
                    });
                }
            };
        }
        Ok(shape)
    }
}

/// A path segment that is not in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField<'s> {
    /// How many segments before it were found.
    pub depth: usize,
    /// The segment.
    pub segment: &'s str,
    /// What could be there instead (empty past a scalar, a list or a map).
    pub candidates: Vec<&'static str>,
}

impl UnknownField<'_> {
    /// ` (did you mean `x`?)` for the closest candidate, or nothing.
    pub fn hint(&self) -> String {
        hint(self.segment, self.candidates.iter().copied())
    }
}

/// ` (did you mean `x`?)` for the candidate closest to `given`, or nothing.
pub fn hint<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    vigo_core::suggest::did_you_mean(given, candidates)
        .map(|h| format!(" ({h})"))
        .unwrap_or_default()
}

/// Defines a collector's output struct and its [`Describe`] description from one
/// declaration: each field's doc comment is its doc line, its type its shape.
///
/// Field doc comments come first, then any `#[serde(…)]` attributes; a field whose JSON
/// name is a keyword is written raw (`r#type`).
#[macro_export]
macro_rules! trait_struct {
    (
        $(#[doc = $sdoc:literal])*
        #[derive($($derive:path),* $(,)?)]
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde($($serde:tt)*)])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive($($derive),*)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                $(#[serde($($serde)*)])*
                pub $field: $ty,
            )*
        }

        impl $name {
            /// Its fields, as `when:`, templates and `docs/traits.md` see them.
            pub const FIELDS: &'static [$crate::schema::Field] = &[$(
                $crate::schema::Field {
                    ident: stringify!($field),
                    doc: concat!($($doc),*),
                    shape: <$ty as $crate::schema::Describe>::shape,
                    optional: <$ty as $crate::schema::Describe>::OPTIONAL,
                },
            )*];
        }

        impl $crate::schema::Describe for $name {
            fn shape() -> $crate::schema::Shape {
                $crate::schema::Shape::Object(Self::FIELDS)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::trait_struct! {
        /// A test struct.
        #[derive(Debug, serde::Serialize)]
        pub struct Sample {
            /// A name.
            /// On two lines.
            pub name: String,
            /// Optional.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub r#type: Option<u32>,
            /// Nested.
            pub by_dev: BTreeMap<String, Vec<bool>>,
        }
    }

    #[test]
    fn a_struct_describes_itself() {
        let f = Sample::FIELDS;
        assert_eq!(f[0].name(), "name");
        assert_eq!(f[0].doc(), "A name. On two lines.");
        assert_eq!(f[1].name(), "type");
        assert!(f[1].optional && !f[0].optional);
        assert_eq!((f[1].shape)().type_name(), "integer");
        assert_eq!((f[2].shape)().type_name(), "map of list of bool");
        let s = Sample::shape();
        assert!(matches!(s.lookup(&["by_dev", "sda", "0"]), Ok(Shape::Bool)));
        let e = s.lookup(&["nmae"]).unwrap_err();
        assert_eq!((e.depth, e.segment), (0, "nmae"));
        assert_eq!(e.hint(), " (did you mean `name`?)");
        assert!(s.lookup(&["name", "x"]).unwrap_err().candidates.is_empty());
        assert!(s.lookup(&["by_dev", "sda", "first"]).is_err());
    }
}
