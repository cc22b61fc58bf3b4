//! Rendering a parsed template against JSON data.

use serde_json::Value;

use super::parse::{Arg, Node, Pipeline};
use super::{MAX_DEPTH, MAX_OUTPUT, Template, TemplateError};

/// Go's notion of "empty": false, 0, "", nil, and empty lists and maps.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// How a value prints, as Go's `%v` does (`[a b]`, `map[k:v]`, `<no value>` for nil).
pub(crate) fn format_value(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n
            .as_i64()
            .map(|i| i.to_string())
            .or_else(|| n.as_u64().map(|u| u.to_string()))
            .unwrap_or_else(|| {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e21 {
                    format!("{f:.0}")
                } else {
                    f.to_string()
                }
            }),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(format_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", format_value(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

struct State<'t> {
    tmpl: &'t Template,
    out: String,
    vars: Vec<(String, Value)>,
    pos: (usize, usize),
}

type R<T> = Result<T, TemplateError>;

impl State<'_> {
    fn err(&self, message: impl Into<String>) -> TemplateError {
        TemplateError {
            name: self.tmpl.name.clone(),
            line: self.pos.0,
            col: self.pos.1,
            message: message.into(),
        }
    }

    fn var(&self, name: &str) -> R<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(format!("undefined variable: ${name}")))
    }

    fn fields(&self, mut v: Value, fields: &[String], shown: &str) -> R<Value> {
        let mut path = shown.to_owned();
        for f in fields {
            path = if path == "." {
                format!(".{f}")
            } else {
                format!("{path}.{f}")
            };
            v = match v {
                Value::Object(mut m) => m.remove(f).ok_or_else(|| {
                    self.err(format!("map has no entry for key \"{f}\" (at {path})"))
                })?,
                Value::Null => {
                    return Err(self.err(format!("nil value has no field {f} (at {path})")));
                }
                other => {
                    return Err(self.err(format!(
                        "can't evaluate field {f} in a {} (at {path})",
                        short_kind(&other)
                    )));
                }
            };
        }
        Ok(v)
    }

    fn arg(&mut self, a: &Arg, dot: &Value, depth: usize) -> R<Value> {
        match a {
            Arg::Dot => Ok(dot.clone()),
            Arg::Field(f) => self.fields(dot.clone(), f, "."),
            Arg::Var(n, f) => {
                let v = self.var(n)?;
                self.fields(v, f, &format!("${n}"))
            }
            Arg::Str(s) => Ok(Value::String(s.clone())),
            Arg::Num(n, int) => Ok(if *int {
                Value::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
            }),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Ok(Value::Null),
            Arg::Func(f) => self.call(f, &[], None, dot, depth),
            Arg::Sub(p, f) => {
                let v = self.pipeline(p, dot, depth + 1)?;
                self.fields(v, f, "(…)")
            }
        }
    }

    fn call(
        &mut self,
        f: &str,
        args: &[Arg],
        piped: Option<Value>,
        dot: &Value,
        depth: usize,
    ) -> R<Value> {
        if f == "and" || f == "or" {
            // Short-circuit, returning the deciding operand, as Go does.
            let mut last = Value::Bool(f == "and");
            let total = args.len() + usize::from(piped.is_some());
            if total == 0 {
                return Err(self.err(format!(
                    "wrong number of args for {f}: want at least 1 got 0"
                )));
            }
            for a in args {
                last = self.arg(a, dot, depth)?;
                if truthy(&last) != (f == "and") {
                    return Ok(last);
                }
            }
            if let Some(p) = piped {
                last = p;
            }
            return Ok(last);
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(self.arg(a, dot, depth)?);
        }
        values.extend(piped);
        super::funcs::call(f, &values).map_err(|e| self.err(format!("error calling {f}: {e}")))
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(self.err("expression nested too deeply"));
        }
        let mut piped: Option<Value> = None;
        for cmd in &p.cmds {
            let value = match cmd.first() {
                Some(Arg::Func(f)) => self.call(f, &cmd[1..], piped.take(), dot, depth)?,
                Some(a) if cmd.len() == 1 => {
                    if piped.is_some() {
                        return Err(self.err("can't give an argument to a non-function"));
                    }
                    self.arg(a, dot, depth)?
                }
                Some(_) => return Err(self.err("can't give arguments to a non-function")),
                None => return Err(self.err("empty command")),
            };
            piped = Some(value);
        }
        let v = piped.unwrap_or(Value::Null);
        match (p.vars.as_slice(), p.assign) {
            ([], _) => {}
            ([name], false) => self.vars.push((name.clone(), v.clone())),
            ([name], true) => {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| TemplateError {
                        name: self.tmpl.name.clone(),
                        line: self.pos.0,
                        col: self.pos.1,
                        message: format!("undefined variable: ${name}"),
                    })?;
                slot.1 = v.clone();
            }
            _ => return Err(self.err("too many declarations outside range")),
        }
        Ok(v)
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.err(format!("output larger than {MAX_OUTPUT} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Value, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(self.err("templates nested too deeply"));
        }
        let mark = self.vars.len();
        for n in nodes {
            self.node(n, dot, depth)?;
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn node(&mut self, n: &Node, dot: &Value, depth: usize) -> R<()> {
        match n {
            Node::Text(t) => self.write(t),
            Node::Action { pos, pipe } => {
                self.pos = *pos;
                let v = self.pipeline(pipe, dot, depth)?;
                if pipe.vars.is_empty() {
                    let s = format_value(&v);
                    self.write(&s)?;
                }
                Ok(())
            }
            Node::If {
                pos,
                pipe,
                then,
                els,
            } => {
                self.pos = *pos;
                let mark = self.vars.len();
                let v = self.pipeline(pipe, dot, depth)?;
                let r = if truthy(&v) {
                    self.nodes(then, dot, depth + 1)
                } else {
                    self.nodes(els, dot, depth + 1)
                };
                self.vars.truncate(mark);
                r
            }
            Node::With {
                pos,
                pipe,
                body,
                els,
            } => {
                self.pos = *pos;
                let mark = self.vars.len();
                let v = self.pipeline(pipe, dot, depth)?;
                let r = if truthy(&v) {
                    self.nodes(body, &v, depth + 1)
                } else {
                    self.nodes(els, dot, depth + 1)
                };
                self.vars.truncate(mark);
                r
            }
            Node::Range {
                pos,
                pipe,
                body,
                els,
            } => {
                self.pos = *pos;
                let decl = Pipeline {
                    vars: Vec::new(),
                    assign: false,
                    cmds: pipe.cmds.clone(),
                };
                let v = self.pipeline(&decl, dot, depth)?;
                let items: Vec<(Value, Value)> = match v {
                    Value::Array(a) => a
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| (Value::from(i), x))
                        .collect(),
                    Value::Object(m) => {
                        let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                        kv.sort_by(|a, b| a.0.cmp(&b.0));
                        kv.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                    }
                    Value::Number(n) if n.as_i64().is_some() => {
                        let count = n.as_i64().unwrap_or(0).max(0);
                        (0..count)
                            .map(|i| (Value::from(i), Value::from(i)))
                            .collect()
                    }
                    Value::Null => Vec::new(),
                    other => {
                        return Err(
                            self.err(format!("range can't iterate over {}", format_value(&other)))
                        );
                    }
                };
                if items.is_empty() {
                    return self.nodes(els, dot, depth + 1);
                }
                for (key, item) in items {
                    let mark = self.vars.len();
                    match pipe.vars.as_slice() {
                        [] => {}
                        [x] => self.vars.push((x.clone(), item.clone())),
                        [k, x] => {
                            self.vars.push((k.clone(), key));
                            self.vars.push((x.clone(), item.clone()));
                        }
                        _ => return Err(self.err("range can declare at most two variables")),
                    }
                    let r = self.nodes(body, &item, depth + 1);
                    self.vars.truncate(mark);
                    r?;
                }
                Ok(())
            }
            Node::Template { pos, name, pipe } => {
                self.pos = *pos;
                let body = self
                    .tmpl
                    .defs
                    .get(name)
                    .ok_or_else(|| self.err(format!("no such template \"{name}\"")))?;
                let arg = match pipe {
                    Some(p) => self.pipeline(p, dot, depth)?,
                    None => Value::Null,
                };
                // A called template sees only `$` = its argument.
                let saved = std::mem::replace(&mut self.vars, vec![(String::new(), arg.clone())]);
                let r = self.nodes(body, &arg, depth + 1);
                self.vars = saved;
                r
            }
        }
    }
}

fn short_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Renders `tmpl` against `data`.
pub(crate) fn render(tmpl: &Template, data: &Value) -> R<String> {
    let mut st = State {
        tmpl,
        out: String::new(),
        vars: vec![(String::new(), data.clone())],
        pos: (1, 1),
    };
    st.nodes(&tmpl.root, data, 0)?;
    Ok(st.out)
}
