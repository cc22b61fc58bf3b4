//! The policy bundle as typed Rust: what the resolver builds for one match block and one
//! published version, and what the agent plans from. [`Bundle::to_proto`] turns it into
//! the wire `PolicyBundle`; [`Bundle::from_proto`] reads one back.
//!
//! Invariant: the conversion is deterministic. Vars and attributes travel as JSON text
//! written by [`canonical_json`] (object keys sorted at every level, no whitespace), the
//! templates map is ordered, and prost writes fields in number order — so equal bundles
//! always encode to equal bytes, which is what the signature covers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use vigo_proto::v1::{Configcrate as WireCrate, PolicyBundle, Resource as WireResource};

/// A bundle: everything one envoy of a match block needs to converge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bundle {
    /// Published version, `YYYYMMDDTHHMMSSZ`.
    pub version: String,
    /// Content hash of the published stacks tree.
    pub tree_hash: String,
    /// The `match:` pattern of the block that selected this bundle.
    pub match_pattern: String,
    /// The block's environment (`""` when none).
    pub environment: String,
    /// The block's roles.
    pub roles: Vec<String>,
    /// Configcrates in application order (usercrates last).
    pub configcrates: Vec<BundleCrate>,
    /// Template texts by name under `stacks/templates/`, unrendered.
    pub templates: BTreeMap<String, String>,
    /// Observe mode: check and report, never apply.
    pub observe_only: bool,
    /// Seconds after `issued_at_unix` the bundle stops being applied (0 = never).
    pub max_age_secs: u64,
    /// When the bundle was built (Unix seconds).
    pub issued_at_unix: i64,
}

/// One configcrate of a bundle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BundleCrate {
    /// The crate's name (for a usercrate: `user:<name>`).
    pub name: String,
    /// Merged vars (secret references already turned into markers).
    pub vars: Map<String, Value>,
    /// Resources in file order (after `foreach` expansion).
    pub resources: Vec<BundleResource>,
    /// Crate-level dependencies on other crates of the bundle.
    pub depends_on: Vec<String>,
    /// Crate-level `when:` (`""` when none).
    pub when: String,
    /// For a usercrate: the Unix user it belongs to.
    pub user: String,
}

/// One resource of a bundle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BundleResource {
    /// The resource type.
    pub type_name: String,
    /// The name, unique in its crate.
    pub name: String,
    /// The type's attributes (strings may hold templates and secret markers).
    pub attributes: Map<String, Value>,
    /// Resources or crates this one runs after.
    pub depends_on: Vec<String>,
    /// Resources this one runs before.
    pub before: Vec<String>,
    /// Resources re-applied when this one changes.
    pub notify: Vec<String>,
    /// Resources whose change re-applies this one.
    pub subscribes: Vec<String>,
    /// `when:` (`"changed"` for notify targets; `""` when none).
    pub when: String,
    /// Time limit in seconds (0 = the executor's default).
    pub timeout_secs: u32,
    /// Where it is defined, `file:line`.
    pub origin: String,
}

/// Why a wire bundle could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A vars or attributes field is not a JSON object.
    #[error("{what}: not a JSON object: {detail}")]
    NotAnObject {
        /// Which field (`configcrate "x" vars`, `resource "x/y" attributes`).
        what: String,
        /// The parser's message.
        detail: String,
    },
}

/// JSON text with object keys sorted at every level and no insignificant whitespace: the
/// one spelling of a value that goes into signed bytes.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => write_canonical_map(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn object_json(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_canonical_map(map, &mut out);
    out
}

fn write_canonical_map(map: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        write_canonical(&map[k], out);
    }
    out.push('}');
}

fn parse_object(
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<Map<String, Value>, BundleError> {
    if text.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(BundleError::NotAnObject {
            what: what(),
            detail: format!("found {other}"),
        }),
        Err(e) => Err(BundleError::NotAnObject {
            what: what(),
            detail: e.to_string(),
        }),
    }
}

impl Bundle {
    /// The wire form.
    pub fn to_proto(&self) -> PolicyBundle {
        PolicyBundle {
            version: self.version.clone(),
            tree_hash: self.tree_hash.clone(),
            match_pattern: self.match_pattern.clone(),
            environment: self.environment.clone(),
            roles: self.roles.clone(),
            configcrates: self
                .configcrates
                .iter()
                .map(BundleCrate::to_proto)
                .collect(),
            templates: self
                .templates
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            observe_only: self.observe_only,
            max_age_secs: self.max_age_secs,
            issued_at_unix: self.issued_at_unix,
        }
    }

    /// Reads a wire bundle back (e.g. after its signature was verified).
    pub fn from_proto(p: &PolicyBundle) -> Result<Self, BundleError> {
        Ok(Bundle {
            version: p.version.clone(),
            tree_hash: p.tree_hash.clone(),
            match_pattern: p.match_pattern.clone(),
            environment: p.environment.clone(),
            roles: p.roles.clone(),
            configcrates: p
                .configcrates
                .iter()
                .map(BundleCrate::from_proto)
                .collect::<Result<_, _>>()?,
            templates: p
                .templates
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            observe_only: p.observe_only,
            max_age_secs: p.max_age_secs,
            issued_at_unix: p.issued_at_unix,
        })
    }

    /// Number of resources over all crates.
    pub fn resource_count(&self) -> usize {
        self.configcrates.iter().map(|c| c.resources.len()).sum()
    }
}

impl BundleCrate {
    fn to_proto(&self) -> WireCrate {
        WireCrate {
            name: self.name.clone(),
            vars_json: object_json(&self.vars),
            resources: self
                .resources
                .iter()
                .map(BundleResource::to_proto)
                .collect(),
            depends_on: self.depends_on.clone(),
            when: self.when.clone(),
            user: self.user.clone(),
        }
    }

    fn from_proto(c: &WireCrate) -> Result<Self, BundleError> {
        Ok(BundleCrate {
            name: c.name.clone(),
            vars: parse_object(&c.vars_json, || format!("configcrate \"{}\" vars", c.name))?,
            resources: c
                .resources
                .iter()
                .map(|r| BundleResource::from_proto(&c.name, r))
                .collect::<Result<_, _>>()?,
            depends_on: c.depends_on.clone(),
            when: c.when.clone(),
            user: c.user.clone(),
        })
    }
}

impl BundleResource {
    fn to_proto(&self) -> WireResource {
        WireResource {
            r#type: self.type_name.clone(),
            name: self.name.clone(),
            attributes_json: object_json(&self.attributes),
            depends_on: self.depends_on.clone(),
            before: self.before.clone(),
            notify: self.notify.clone(),
            subscribes: self.subscribes.clone(),
            when: self.when.clone(),
            timeout_secs: self.timeout_secs,
            origin: self.origin.clone(),
        }
    }

    fn from_proto(crate_name: &str, r: &WireResource) -> Result<Self, BundleError> {
        Ok(BundleResource {
            type_name: r.r#type.clone(),
            name: r.name.clone(),
            attributes: parse_object(&r.attributes_json, || {
                format!("resource \"{crate_name}/{}\" attributes", r.name)
            })?,
            depends_on: r.depends_on.clone(),
            before: r.before.clone(),
            notify: r.notify.clone(),
            subscribes: r.subscribes.clone(),
            when: r.when.clone(),
            timeout_secs: r.timeout_secs,
            origin: r.origin.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::signing;

    /// JSON values without floats (floats do not always survive a text round trip
    /// bit-for-bit, and stacks never produce them from strings).
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn object() -> impl Strategy<Value = Map<String, Value>> {
        proptest::collection::btree_map("[a-z_]{1,8}", json_value(), 0..5)
            .prop_map(|m| m.into_iter().collect())
    }

    fn resource() -> impl Strategy<Value = BundleResource> {
        (
            "[a-z_]{1,10}",
            ".{1,16}",
            object(),
            proptest::collection::vec("[a-z/-]{1,8}", 0..3),
            proptest::collection::vec("[a-z/-]{1,8}", 0..3),
            "(|changed|os_family\\('debian'\\))",
            any::<u32>(),
        )
            .prop_map(
                |(type_name, name, attributes, depends_on, notify, when, timeout_secs)| {
                    BundleResource {
                        type_name,
                        name,
                        attributes,
                        depends_on,
                        notify,
                        when,
                        timeout_secs,
                        origin: "configcrates/x.vgo:3".into(),
                        ..Default::default()
                    }
                },
            )
    }

    fn bundle() -> impl Strategy<Value = Bundle> {
        let krate = (
            "[a-z-]{1,10}",
            object(),
            proptest::collection::vec(resource(), 0..4),
            proptest::collection::vec("[a-z-]{1,8}", 0..2),
        )
            .prop_map(|(name, vars, resources, depends_on)| BundleCrate {
                name,
                vars,
                resources,
                depends_on,
                ..Default::default()
            });
        (
            "[0-9]{8}T[0-9]{6}Z",
            proptest::collection::vec(krate, 0..4),
            proptest::collection::btree_map("[a-z.]{1,10}", ".{0,30}", 0..3),
            any::<bool>(),
            any::<u64>(),
            any::<i64>(),
        )
            .prop_map(
                |(version, configcrates, templates, observe_only, max_age_secs, issued_at_unix)| {
                    Bundle {
                        version,
                        tree_hash: "abc".into(),
                        match_pattern: "web-*".into(),
                        environment: "production".into(),
                        roles: vec!["webserver".into()],
                        configcrates,
                        templates,
                        observe_only,
                        max_age_secs,
                        issued_at_unix,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn typed_bundle_round_trips_through_signed_bytes(
            b in bundle(),
            flip in any::<proptest::sample::Index>(),
        ) {
            let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
            let signed = signing::sign(&b.to_proto(), &key);
            let back = signing::verify(&signed, &key.verifying_key()).unwrap();
            prop_assert_eq!(&Bundle::from_proto(&back).unwrap(), &b);
            // Encoding twice gives the same bytes.
            prop_assert_eq!(&signing::encode(&b.to_proto()), &signed.payload);
            // Any single bit flip in the payload is refused.
            let mut tampered = signed;
            let bit = flip.index(tampered.payload.len() * 8);
            tampered.payload[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(signing::verify(&tampered, &key.verifying_key()).is_err());
        }

        #[test]
        fn canonical_json_is_insertion_order_independent(v in json_value()) {
            let text = canonical_json(&v);
            let reparsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&reparsed, &v);
            prop_assert_eq!(canonical_json(&reparsed), text);
        }
    }

    #[test]
    fn canonical_json_sorts_keys_everywhere() {
        let v = json!({"b": 1, "a": {"d": [1, {"z": 0, "y": "é"}], "c": null}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"d":[1,{"y":"é","z":0}]},"b":1}"#
        );
    }

    #[test]
    fn a_broken_attributes_field_names_the_resource() {
        let mut p = Bundle {
            configcrates: vec![BundleCrate {
                name: "web".into(),
                resources: vec![BundleResource {
                    name: "site".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
        .to_proto();
        p.configcrates[0].resources[0].attributes_json = "[1]".into();
        assert_eq!(
            Bundle::from_proto(&p).unwrap_err().to_string(),
            "resource \"web/site\" attributes: not a JSON object: found [1]"
        );
    }
}
