//! The shape of what `vigo traits` prints (and the check-in sends): every key and the type
//! of every value, compared with the trait model and pinned by a snapshot, so a renamed or
//! retyped field shows up in review. Values are replaced by their types, keys the host
//! decides (devices, mountpoints, interfaces, packages) by `<key>`, lists by one element,
//! and optional fields are marked `?` whether this host has them or not.

use serde_json::{Map, Value, json};
use vigo_traits::schema::Shape;

fn vigo() -> assert_cmd::Command {
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("vigo"))
}

/// The model's skeleton of `shape`, with no data.
fn model(shape: Shape) -> Value {
    match shape {
        Shape::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|f| (key(f), model((f.shape)())))
                .collect(),
        ),
        Shape::Map(inner) => json!({ "<key>": model(inner()) }),
        Shape::List(inner) => json!([model(inner())]),
        scalar => Value::String(format!("<{}>", scalar.type_name())),
    }
}

fn key(f: &vigo_traits::schema::Field) -> String {
    if f.optional {
        format!("{}?", f.name())
    } else {
        f.name().to_owned()
    }
}

/// The skeleton of `v`: the model's where `v` conforms to `shape`, a `MISMATCH` marker
/// where it does not.
fn skeleton(v: &Value, shape: Shape, optional: bool) -> Value {
    let mismatch = || Value::String(format!("MISMATCH: expected {}, got {v}", shape.type_name()));
    match (shape, v) {
        (_, Value::Null) if optional => model(shape),
        (Shape::Object(fields), Value::Object(m)) => {
            let mut out = Map::new();
            for f in fields {
                let got = match m.get(f.name()) {
                    Some(x) => skeleton(x, (f.shape)(), f.optional),
                    None if f.optional => model((f.shape)()),
                    None => Value::String("MISSING".into()),
                };
                out.insert(key(f), got);
            }
            for k in m.keys().filter(|k| !fields.iter().any(|f| f.name() == *k)) {
                out.insert(k.clone(), Value::String("NOT IN THE MODEL".into()));
            }
            Value::Object(out)
        }
        (Shape::Map(inner), Value::Object(m)) => {
            let shapes: Vec<Value> = m.values().map(|x| skeleton(x, inner(), false)).collect();
            one_of(shapes, model(inner()), |s| json!({ "<key>": s }))
        }
        (Shape::List(inner), Value::Array(items)) => {
            let shapes: Vec<Value> = items.iter().map(|x| skeleton(x, inner(), false)).collect();
            one_of(shapes, model(inner()), |s| json!([s]))
        }
        (Shape::Bool, Value::Bool(_))
        | (Shape::Text, Value::String(_))
        | (Shape::Number, Value::Number(_)) => model(shape),
        (Shape::Integer, Value::Number(n)) if n.is_u64() || n.is_i64() => model(shape),
        _ => mismatch(),
    }
}

/// The one skeleton every element has (the model's when there are none), or all of them.
fn one_of(mut shapes: Vec<Value>, empty: Value, wrap: impl Fn(Value) -> Value) -> Value {
    shapes.dedup();
    match shapes.len() {
        0 => wrap(empty),
        1 => wrap(shapes.remove(0)),
        _ => Value::Array(shapes),
    }
}

#[test]
fn the_traits_document_has_the_models_shape() {
    let out = vigo().arg("traits").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut shape = Map::new();
    for c in vigo_traits::all() {
        let value = doc.get(c.name).unwrap_or(&Value::Null);
        shape.insert(c.name.to_owned(), skeleton(value, (c.shape)(), false));
    }
    let extra: Vec<&String> = doc
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| vigo_traits::find(k).is_none())
        .collect();
    assert!(extra.is_empty(), "not collectors: {extra:?} in {doc}");
    insta::assert_json_snapshot!("vigo_traits_shape", shape);
}

/// What `vigo traits` says about names and paths that are not in the model.
#[test]
fn unknown_names_and_paths_say_what_was_meant() {
    let said: Vec<String> = [
        "nosuch",
        "netwrok",
        "os.famly",
        "network.interfaces.lo.mtux",
        "os.family.deeper",
    ]
    .iter()
    .map(|arg| {
        let out = vigo().args(["traits", arg]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{arg}");
        format!(
            "$ vigo traits {arg}\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
    .collect();
    insta::assert_snapshot!("vigo_traits_unknown", said.join("\n"));
}
