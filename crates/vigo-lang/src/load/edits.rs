//! Publish-time rules of the partial-file types (`file_line`, `blockinfile`, `replace`,
//! `ini`) beyond the attribute table: their regular expressions compile and are not
//! empty, a replacement names only groups its pattern has, and the combinations the agent
//! refuses are refused here too. Patterns and templates go through the same functions
//! the agent's executors use (`vigo_core::pattern`), so a resource that publishes is one
//! the agent runs. A templated value is checked on the agent, after rendering.

use serde_json::Value;
use vigo_core::pattern::{self, PatternError, Position, Regex, Template};

use super::cx::Cx;
use crate::model::ResourceDef;
use crate::schema;

/// Checks one resource of type `type_name`.
pub(crate) fn check(cx: &mut Cx<'_>, context: &str, type_name: &str, r: &ResourceDef) {
    let mut rules = Rules { cx, context, r };
    match type_name {
        "file_line" => rules.file_line(),
        "replace" => rules.replace(),
        "blockinfile" => rules.blockinfile(),
        "ini" => rules.ini(),
        _ => {}
    }
}

struct Rules<'c, 'x, 'r> {
    cx: &'c mut Cx<'x>,
    context: &'c str,
    r: &'r ResourceDef,
}

impl<'r> Rules<'_, '_, 'r> {
    /// A string attribute, unless absent or templated.
    fn text(&self, key: &str) -> Option<&'r str> {
        self.r
            .attrs
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !schema::is_templated(s))
    }

    fn has(&self, key: &str) -> bool {
        self.r.attrs.contains_key(key)
    }

    fn flag(&self, key: &str) -> bool {
        self.r.attrs.get(key) == Some(&Value::Bool(true))
    }

    fn state(&self) -> Option<&'r str> {
        self.r.attrs.get("state").and_then(Value::as_str)
    }

    fn err(&mut self, key: &str, message: impl Into<String>) {
        let pos = self.r.pos_of(key);
        self.cx.err(pos, self.context, message);
    }

    fn attr_err(&mut self, key: &str, e: &PatternError) {
        self.err(key, format!("attribute `{key}`: {e}"));
    }

    /// Compiles a regex attribute when it is given and not templated.
    fn regex(&mut self, key: &str, multi_line: bool) -> Option<Regex> {
        let text = self.text(key)?;
        pattern::compile(text, multi_line)
            .map_err(|e| self.attr_err(key, &e))
            .ok()
    }

    /// Checks that the template attribute `key` names only groups of `re`.
    fn template(&mut self, key: &str, re: &Regex) {
        if let Some(text) = self.text(key)
            && let Err(e) = Template::for_pattern(text, re)
        {
            self.attr_err(key, &e);
        }
    }

    fn file_line(&mut self) {
        let state = self.state();
        if state == Some("absent") && !self.has("line") && !self.has("match_pattern") {
            self.err("state", "state absent needs `line` or `match_pattern`");
        }
        let re = self.regex("match_pattern", false);
        self.regex("region_start", false);
        self.regex("region_end", false);
        if let Some(text) = self.text("position")
            && let Err(e) = Position::parse(text)
        {
            self.attr_err("position", &e);
        }
        if !self.flag("backrefs") {
            return;
        }
        if state == Some("absent") {
            self.err(
                "backrefs",
                "attribute `backrefs`: only applies to state present",
            );
        } else if !self.has("match_pattern") {
            self.err(
                "backrefs",
                "attribute `backrefs`: needs `match_pattern` (the groups `line` refers to)",
            );
        } else if self.has("position") {
            self.err(
                "position",
                "attribute `position`: has no effect with `backrefs: true` (a matching line is replaced, nothing is inserted)",
            );
        } else if let Some(re) = re {
            self.template("line", &re);
        }
    }

    fn replace(&mut self) {
        if let Some(re) = self.regex("match_pattern", true) {
            self.template("replacement", &re);
        }
        self.regex("region_start", false);
        self.regex("region_end", false);
    }

    fn blockinfile(&mut self) {
        let (after, before) = (self.text("insertafter"), self.text("insertbefore"));
        if let Err(e) = Position::from_insert(after, before) {
            let key = if before.is_some() {
                "insertbefore"
            } else {
                "insertafter"
            };
            self.attr_err(key, &e);
        }
    }

    fn ini(&mut self) {
        let section = self.text("section").map(str::trim).unwrap_or_default();
        if self.state() == Some("absent") && !self.has("key") && section.is_empty() {
            self.err(
                "state",
                "attribute `key`: is required to remove settings before the first section (without `key`, state absent removes the whole `section`)",
            );
        }
    }
}
