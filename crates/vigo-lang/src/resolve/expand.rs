//! `foreach:` expansion and load-time names. A resource with `foreach: VAR` (or every
//! resource of a crate with a crate-level `foreach:`) is stamped out once per item of the
//! list var `VAR`: strings → `{{ .Item }}`; mappings → `{{ .Each.key }}` (and `.Item`).
//!
//! Strings that use `.Item`/`.Each` are rendered here, on the server, with `.Vars`
//! available too; they cannot also use `.Traits`/`.Envoy` (known only on the agent).
//! Other strings are left for the agent. A templated `name:` is always rendered here.

use serde_json::{Map, Value, json};

use crate::template::Template;
use crate::{schema, secret};

/// Which namespaces a template reads.
struct Uses {
    item: bool,
    agent: bool,
}

fn uses(t: &Template) -> Uses {
    let paths = t.field_paths();
    let starts = |p: &str, root: &str| p == root || p.starts_with(&format!("{root}."));
    Uses {
        item: paths.iter().any(|p| starts(p, "Item") || starts(p, "Each")),
        agent: paths
            .iter()
            .any(|p| starts(p, "Traits") || starts(p, "Envoy")),
    }
}

/// The template data for one item: `.Vars`, `.Item`, and `.Each` for a mapping.
pub(crate) fn item_data(vars: &Map<String, Value>, item: Option<&Value>) -> Value {
    match item {
        None => json!({ "Vars": vars }),
        Some(i @ Value::Object(_)) => json!({ "Vars": vars, "Item": i, "Each": i }),
        Some(i) => json!({ "Vars": vars, "Item": i }),
    }
}

/// Renders a resource name (always done here: names are identities).
pub(crate) fn render_name(name: &str, data: &Value) -> Result<String, String> {
    if !schema::is_templated(name) {
        return Ok(name.to_owned());
    }
    let t = Template::parse("name", name).map_err(|e| e.message)?;
    if uses(&t).agent {
        return Err(
            "a resource name cannot use .Traits or .Envoy (names are fixed on the server)".into(),
        );
    }
    t.render(data).map_err(|e| e.message)
}

/// Renders, in every string of `v`, the templates that use `.Item`/`.Each`.
pub(crate) fn render_items(v: &mut Value, data: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if schema::is_templated(s) => {
            let t = secret::parse_attribute("attribute", s).map_err(|e| e.message)?;
            let u = uses(&t);
            if u.item && u.agent {
                return Err(
                    "a string using .Item/.Each cannot also use .Traits or .Envoy: foreach is \
                     expanded on the server, traits are known only on the agent"
                        .into(),
                );
            }
            if u.item {
                *s = t.render(data).map_err(|e| e.message)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| render_items(i, data)),
        Value::Object(m) => m.values_mut().try_for_each(|i| render_items(i, data)),
        _ => Ok(()),
    }
}

/// The items of the `foreach` var, or why it cannot be expanded.
pub(crate) fn items<'v>(var: &str, vars: &'v Map<String, Value>) -> Result<&'v [Value], String> {
    match vars.get(var) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!(
            "`foreach`: var `{var}` must be a list, found {}",
            match other {
                Value::Object(_) => "a mapping",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                Value::Null | Value::Array(_) => "nothing",
            }
        )),
        None => Err(format!("`foreach`: no var `{var}` is defined")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_each() {
        let vars: Map<String, Value> = json!({"users": [{"name": "a"}], "x": "1"})
            .as_object()
            .cloned()
            .unwrap();
        let its = items("users", &vars).unwrap();
        let data = item_data(&vars, Some(&its[0]));
        assert_eq!(
            render_name("user-{{ .Each.name }}", &data),
            Ok("user-a".into())
        );
        let mut v = json!({"u": "{{ .Item.name }}-{{ .Vars.x }}", "t": "{{ .Traits.os.name }}"});
        render_items(&mut v, &data).unwrap();
        assert_eq!(v, json!({"u": "a-1", "t": "{{ .Traits.os.name }}"}));
        let mut mixed = json!("{{ .Each.name }} on {{ .Traits.os.name }}");
        assert!(
            render_items(&mut mixed, &data)
                .unwrap_err()
                .contains("cannot also use")
        );
        assert_eq!(
            items("x", &vars).unwrap_err(),
            "`foreach`: var `x` must be a list, found a string"
        );
        assert_eq!(
            items("nope", &vars).unwrap_err(),
            "`foreach`: no var `nope` is defined"
        );
    }
}
