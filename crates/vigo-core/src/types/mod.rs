//! The built-in resource types, each defined once: its attributes (kind, default,
//! required / required-when, allowed values, a doc line, an example value) and its
//! type-level facts (primary attribute, the path it writes, the states that must be notify
//! targets, whether it takes `revert`, a doc paragraph and an example resource).
//!
//! Everything else is derived from these definitions: the publish-time checks of vigo-lang,
//! the typed reading of attributes in vigo-exec (`Attrs` refuses to read an attribute the
//! definition lacks), the guardrails' list of path-writing types, the attribute tables of
//! `docs/resources.md` ([`docs`]) and `vigo resource TYPE --help` ([`help`]).
//!
//! Adding a type: a file here with its `pub const TYPE: TypeDef`, one line in [`TYPES`],
//! its executor in vigo-exec (one line in its registry), and tests.

pub mod docs;
pub mod engine;
pub mod help;
pub mod value;

pub mod blockinfile;
pub mod cron;
pub mod directory;
pub mod exec;
pub mod file;
pub mod file_line;
pub mod group;
pub mod host;
pub mod ini;
pub mod json_file;
pub mod package;
pub mod replace;
pub mod service;
pub mod symlink;
pub mod sysctl;
pub mod user;

use serde_json::{Map, Value};

pub use engine::{ENGINE, EngineAttr, is_engine};

/// A rule on one attribute's value beyond its kind (an address parses, a separator is
/// `=` or `:`), run at publish on values that are not templated and by the agent before
/// the executor reads anything. `Err` says what was expected.
pub type ValueCheck = fn(&Value) -> Result<(), String>;

/// A rule across a resource's attributes; `Err` names the attribute it is about and says
/// what is wrong. Run like [`ValueCheck`] (at publish only when no value is templated).
pub type Rule = fn(&Map<String, Value>) -> Result<(), (&'static str, String)>;

/// Whether a string is (or holds) a template, checked on the agent after rendering.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{")
}

/// The items of a list attribute: a list of scalars, or one comma-separated string.
pub fn list_items(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Whether the boolean attribute `key` is true (natively or as `"true"`/`"yes"`).
pub fn flag_set(attrs: &Map<String, Value>, key: &str) -> bool {
    attrs
        .get(key)
        .is_some_and(|v| value::boolean(v) == Ok(true))
}

/// Every built-in type, sorted by name.
pub const TYPES: &[&TypeDef] = &[
    &blockinfile::TYPE,
    &cron::TYPE,
    &directory::TYPE,
    &exec::TYPE,
    &file::TYPE,
    &file_line::TYPE,
    &group::TYPE,
    &host::TYPE,
    &ini::TYPE,
    &json_file::TYPE,
    &package::TYPE,
    &replace::TYPE,
    &service::TYPE,
    &symlink::TYPE,
    &sysctl::TYPE,
    &user::TYPE,
];

/// The definition of a built-in type.
pub fn lookup(type_name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().copied().find(|t| t.name == type_name)
}

/// What an attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string; numbers and booleans are accepted and turned into their text.
    Str,
    /// An absolute path (or a template that renders to one).
    Path,
    /// `true`/`false`, also as the strings `"true"`, `"false"`, `"yes"`, `"no"`.
    Bool,
    /// A non-negative integer, also as a string of digits.
    Int,
    /// An octal file mode such as `"0644"`.
    Mode,
    /// A YAML list of strings, or one comma-separated string.
    List,
    /// Like [`Kind::List`], or a mapping of `KEY: VALUE`.
    Env,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Any YAML value (a JSON literal for `json_file`).
    Any,
}

impl Kind {
    /// How the kind is written in documentation and help.
    pub fn describe(self) -> String {
        match self {
            Kind::Str => "string".into(),
            Kind::Path => "absolute path".into(),
            Kind::Bool => "boolean".into(),
            Kind::Int => "integer".into(),
            Kind::Mode => "octal mode".into(),
            Kind::List => "list".into(),
            Kind::Env => "list or map".into(),
            Kind::Enum(words) => words
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Kind::Any => "any value".into(),
        }
    }
}

/// Whether an attribute must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Optional.
    No,
    /// Always required.
    Yes,
    /// Required when `state` is `present`.
    WhenPresent,
    /// Required when `state` is `present`, unless the named boolean attribute is true
    /// (`ini`'s `value`, not needed with `allow_no_value: true`).
    WhenPresentUnless(&'static str),
}

impl Required {
    /// What an agent-side error says when the attribute is missing (after the attribute).
    pub fn missing(self) -> String {
        match self {
            Required::No | Required::Yes => "is required".into(),
            Required::WhenPresent => "is required when state is present".into(),
            Required::WhenPresentUnless(flag) => {
                format!("is required when state is present (or set `{flag}: true`)")
            }
        }
    }

    /// How the rule is written in documentation and help (empty when optional).
    pub fn describe(self) -> String {
        match self {
            Required::No => String::new(),
            Required::Yes => "yes".into(),
            Required::WhenPresent => "for present".into(),
            Required::WhenPresentUnless(flag) => format!("for present, unless `{flag}`"),
        }
    }

    /// Whether the attribute must be given, for a resource whose `state` is `state` and
    /// whose boolean attributes are read by `flag`.
    pub fn applies(self, state: Option<&str>, flag: impl Fn(&str) -> bool) -> bool {
        let present = state.is_none_or(|s| s == "present");
        match self {
            Required::No => false,
            Required::Yes => true,
            Required::WhenPresent => present,
            Required::WhenPresentUnless(f) => present && !flag(f),
        }
    }
}

/// One attribute of a type.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// The attribute's name.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// Whether it must be given.
    pub required: Required,
    /// What happens without it: for a boolean exactly `true` or `false` (the executor's
    /// default, read through the definition), otherwise a short text (empty: nothing).
    pub default: &'static str,
    /// Attributes that may not be given together with this one.
    pub conflicts: &'static [&'static str],
    /// A rule on the value beyond its kind.
    pub check: Option<ValueCheck>,
    /// One line saying what it does.
    pub doc: &'static str,
    /// A valid value, as YAML text.
    pub example: &'static str,
}

impl Attr {
    /// An optional attribute of `kind` with no default.
    pub const fn new(name: &'static str, kind: Kind, doc: &'static str) -> Self {
        Self {
            name,
            kind,
            required: Required::No,
            default: "",
            conflicts: &[],
            check: None,
            doc,
            example: "",
        }
    }

    /// The same attribute, required by `rule`.
    pub const fn required(mut self, rule: Required) -> Self {
        self.required = rule;
        self
    }

    /// The same attribute with a default.
    pub const fn default(mut self, default: &'static str) -> Self {
        self.default = default;
        self
    }

    /// The same attribute with an example value (YAML text).
    pub const fn example(mut self, example: &'static str) -> Self {
        self.example = example;
        self
    }

    /// The same attribute, refused together with `others`.
    pub const fn conflicts(mut self, others: &'static [&'static str]) -> Self {
        self.conflicts = others;
        self
    }

    /// The same attribute, with a rule on its value.
    pub const fn check(mut self, check: ValueCheck) -> Self {
        self.check = Some(check);
        self
    }

    /// The default of a boolean attribute (`false` when it has none).
    pub fn bool_default(&self) -> bool {
        self.default == "true"
    }
}

/// A built-in resource type.
#[derive(Debug, Clone, Copy)]
pub struct TypeDef {
    /// The `type:` name.
    pub name: &'static str,
    /// One paragraph saying what a resource of this type manages.
    pub doc: &'static str,
    /// An example resource, as YAML list items.
    pub example: &'static str,
    /// Its attributes (engine attributes such as `when` come on top).
    pub attrs: &'static [Attr],
    /// The attribute that names a resource of this type when it has no `name:` (empty:
    /// `name:` is required).
    pub primary: &'static str,
    /// The attribute holding the path the type writes, which the guardrails check.
    pub writes_path: Option<&'static str>,
    /// States that always act, so the resource must be a notify target (`when: "changed"`).
    pub notify_states: &'static [&'static str],
    /// Whether the type takes `revert`/`on_revert`.
    pub revertible: bool,
    /// Rules across attributes.
    pub rules: &'static [Rule],
}

impl TypeDef {
    /// One attribute's definition.
    pub fn attr(&self, name: &str) -> Option<&'static Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// Checks the rules of the definition that go beyond each attribute's kind: value
    /// checks of the attributes given, then the rules across attributes. `skip` leaves out
    /// values that cannot be judged yet (templates, at publish).
    pub fn check_rules(
        &self,
        attrs: &Map<String, Value>,
        skip: impl Fn(&Value) -> bool,
    ) -> Result<(), (&'static str, String)> {
        for a in self.attrs {
            if let (Some(check), Some(v)) = (a.check, attrs.get(a.name))
                && !v.is_null()
                && !skip(v)
            {
                check(v).map_err(|e| (a.name, e))?;
            }
        }
        if attrs.values().any(skip) {
            return Ok(());
        }
        self.rules.iter().try_for_each(|rule| rule(attrs))
    }

    /// The attribute names, in definition order.
    pub fn attr_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attrs.iter().map(|a| a.name)
    }
}

/// The type-level facts most types share, for struct update (`..BASE`): named by
/// `name:`, writing no path, no notify-only state, no `revert`, no rules across attributes.
pub(crate) const BASE: TypeDef = TypeDef {
    name: "",
    doc: "",
    example: "",
    attrs: &[],
    primary: "",
    writes_path: None,
    notify_states: &[],
    revertible: false,
    rules: &[],
};

/// [`BASE`] for the types that manage the file at `target_path`.
pub(crate) const FILE_TYPE: TypeDef = TypeDef {
    primary: "target_path",
    writes_path: Some("target_path"),
    ..BASE
};

/// The `state: present|absent` most types have.
pub(crate) const STATE: Attr = Attr::new(
    "state",
    Kind::Enum(&["present", "absent"]),
    "whether the thing exists",
)
.required(Required::Yes)
.example("present");

/// The `target_path` of the file types.
pub(crate) const TARGET_PATH: Attr = Attr::new("target_path", Kind::Path, "the file to manage")
    .required(Required::Yes)
    .example("/etc/app.conf");

/// The `follow` of the partial-file types.
pub(crate) const FOLLOW: Attr = Attr::new(
    "follow",
    Kind::Bool,
    "follow a symbolic link to its target; `false` refuses it",
)
.default("true")
.example("false");

/// The types whose `writes_path` attribute names a path they write, for the guardrails.
pub fn path_types() -> impl Iterator<Item = (&'static str, &'static str)> {
    TYPES
        .iter()
        .filter_map(|t| t.writes_path.map(|p| (t.name, p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_sorted_and_well_formed() {
        let names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for t in TYPES {
            let mut attrs: Vec<&str> = t.attr_names().collect();
            attrs.sort_unstable();
            let n = attrs.len();
            attrs.dedup();
            assert_eq!(n, attrs.len(), "{}: duplicate attribute", t.name);
            assert!(
                t.primary.is_empty() || t.attr(t.primary).is_some(),
                "{}",
                t.name
            );
            assert!(
                t.writes_path.is_none_or(|p| t.attr(p).is_some()),
                "{}",
                t.name
            );
            assert!(!t.doc.is_empty() && !t.example.is_empty(), "{}", t.name);
            for a in t.attrs {
                assert!(
                    !is_engine(a.name),
                    "{}.{} is an engine attribute",
                    t.name,
                    a.name
                );
                assert!(!a.doc.is_empty(), "{}.{} has no doc line", t.name, a.name);
                if a.kind == Kind::Bool {
                    assert!(
                        matches!(a.default, "true" | "false" | "" | "leave as is"),
                        "{}.{}: a boolean's default is true or false",
                        t.name,
                        a.name
                    );
                }
                for c in a.conflicts {
                    assert!(
                        t.attr(c).is_some(),
                        "{}.{} conflicts with unknown {c}",
                        t.name,
                        a.name
                    );
                }
                if let Required::WhenPresentUnless(f) = a.required {
                    assert_eq!(
                        t.attr(f).map(|f| f.kind),
                        Some(Kind::Bool),
                        "{}.{}",
                        t.name,
                        a.name
                    );
                }
            }
            for s in t.notify_states {
                assert!(
                    matches!(t.attr("state").map(|a| a.kind), Some(Kind::Enum(w)) if w.contains(s)),
                    "{}: notify state {s} is not a state",
                    t.name
                );
            }
        }
    }

    #[test]
    fn path_types_come_from_the_definitions() {
        let names: Vec<&str> = path_types().map(|(t, _)| t).collect();
        assert!(names.contains(&"file") && names.contains(&"host"));
        assert!(!names.contains(&"service"));
    }
}
