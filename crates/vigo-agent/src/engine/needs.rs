//! Which trait collectors a bundle needs: only traits that a template or a `when:` reads
//! can change a run, so the agent collects those and skips the rest (a no-op run of a
//! stack that reads no traits collects none).
//!
//! The scan is conservative: `.Traits.os.family` needs `os`; a `.Traits` not followed by a
//! collector name (`index .Traits "os"`, `{{ .Traits }}`) needs every collector; each
//! `when:` builtin needs the collector it reads ([`vigo_lang::when::BUILTINS`] says which).

use std::collections::BTreeSet;

use vigo_lang::when::BUILTINS;
use vigo_proto::v1::PolicyBundle;

/// What a bundle needs collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraitNeeds {
    /// Every collector.
    All,
    /// Only these collectors (possibly none).
    Some(BTreeSet<String>),
}

impl TraitNeeds {
    /// Whether `collector` must run.
    pub fn wants(&self, collector: &str) -> bool {
        match self {
            TraitNeeds::All => true,
            TraitNeeds::Some(set) => set.contains(collector),
        }
    }
}

/// The collectors `bundle` reads, from its templates, string attributes, vars and `when:`.
pub fn trait_needs(bundle: &PolicyBundle) -> TraitNeeds {
    let mut set = BTreeSet::new();
    let mut all = false;
    for t in bundle.templates.values() {
        all |= scan_template(t, &mut set);
    }
    let mut whens: Vec<&str> = Vec::new();
    for c in &bundle.configcrates {
        all |= scan_template(&c.vars_json, &mut set);
        whens.push(&c.when);
        for r in &c.resources {
            all |= scan_template(&r.attributes_json, &mut set);
            whens.push(&r.when);
        }
    }
    // Most resources have no `when:`; an empty one reads nothing.
    for w in whens.into_iter().filter(|w| !w.is_empty()) {
        all |= scan_template(w, &mut set);
        for b in BUILTINS {
            if let Some(collector) = b.reads
                && contains_call(w, b.name, b.arity.is_none())
            {
                set.insert(collector.to_owned());
            }
        }
    }
    if all {
        TraitNeeds::All
    } else {
        TraitNeeds::Some(set)
    }
}

/// Adds the collectors named after each `.Traits.` in `s`; true when one `.Traits` names
/// no collector (so all are needed).
fn scan_template(s: &str, set: &mut BTreeSet<String>) -> bool {
    const KEY: &str = ".Traits";
    let mut rest = s;
    while let Some(at) = rest.find(KEY) {
        rest = &rest[at + KEY.len()..];
        let Some(after) = rest.strip_prefix('.') else {
            // `.Traits` alone, or `.TraitsX` (not ours: an identifier goes on).
            if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            return true;
        };
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            return true;
        }
        set.insert(name);
    }
    false
}

/// Whether `expr` calls `name(…)` — or names it, for a `bare` builtin that takes no
/// parentheses (`has_enough_ram`) — not as part of a longer identifier.
fn contains_call(expr: &str, name: &str, bare: bool) -> bool {
    let mut from = 0;
    while let Some(at) = expr[from..].find(name) {
        let start = from + at;
        let end = start + name.len();
        let before_ok = expr[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let after_ok = if bare {
            expr[end..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
        } else {
            expr[end..].trim_start().starts_with('(')
        };
        if before_ok && after_ok {
            return true;
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use vigo_proto::v1::{Configcrate, Resource};

    use super::*;

    fn bundle(attrs: &str, when: &str, template: Option<&str>) -> PolicyBundle {
        PolicyBundle {
            configcrates: vec![Configcrate {
                name: "c".into(),
                resources: vec![Resource {
                    r#type: "file".into(),
                    name: "r".into(),
                    attributes_json: attrs.into(),
                    when: when.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            templates: template
                .map(|t| [("t.tmpl".to_owned(), t.to_owned())].into())
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    fn some(names: &[&str]) -> TraitNeeds {
        TraitNeeds::Some(names.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn only_what_templates_and_conditions_read() {
        assert_eq!(
            trait_needs(&bundle(r#"{"content":"static"}"#, "", None)),
            some(&[])
        );
        assert_eq!(
            trait_needs(&bundle(
                r#"{"content":"{{ .Traits.network.hostname }} {{ $.Traits.os.name }}"}"#,
                "",
                Some("{{ range .Traits.users.list }}{{ end }}")
            )),
            some(&["network", "os", "users"])
        );
        assert_eq!(
            trait_needs(&bundle(
                "{}",
                "os_family('debian') && !is_container && hour_range(1, 5) || has_enough_ram",
                None
            )),
            some(&["memory", "os", "time"])
        );
        assert_eq!(
            trait_needs(&bundle("{}", "file_exists('/etc/distro_arch')", None)),
            some(&[]),
            "names inside arguments are not calls"
        );
        assert_eq!(trait_needs(&bundle("{}", "changed", None)), some(&[]));
    }

    #[test]
    fn a_bare_traits_reference_needs_everything() {
        for t in [
            r#"{{ index .Traits "os" }}"#,
            "{{ .Traits }}",
            "{{ toJson .Traits}}",
        ] {
            assert_eq!(
                trait_needs(&bundle("{}", "", Some(t))),
                TraitNeeds::All,
                "{t}"
            );
        }
        assert_eq!(
            trait_needs(&bundle(r#"{"content":"{{ .TraitsExtra }}"}"#, "", None)),
            some(&[])
        );
    }
}
