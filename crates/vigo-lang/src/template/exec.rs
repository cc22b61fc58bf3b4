//! Rendering: walking a parsed template against data, as Go's `text/template/exec.go`
//! does, with Vigo's limits (steps, output, nesting) and secret taint tracking.
//!
//! Values are borrowed from the data and the template; nothing is copied per field access.
//! Nothing here ever parses a value or an output as template text.

use serde_json::Value;

use super::format::{FmtError, Printer};
use super::funcs::{self, Arity, CallError, shown};
use super::node::{Arg, Branch, BranchKind, Command, Ideal, Node, Pipe, Pos};
use super::value::{Kind, Reader, Text, UnresolvedSecret, Val, sorted_entries};
use super::{ErrorKind, MAX_DEPTH, MAX_OUTPUT, MAX_STEPS, Template};

/// A render error: where (byte offset), what, and which kind.
#[derive(Debug)]
pub(crate) struct ExecError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
    pub(crate) kind: ErrorKind,
}

type R<T> = Result<T, ExecError>;

/// How a list ended: normally, or at `{{break}}`/`{{continue}}`.
#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// Bytes of produced text that cost one step.
const BYTES_PER_STEP: usize = 64;

struct State<'a, 's> {
    tmpl: &'a Template,
    reader: Reader<'s>,
    out: String,
    sensitive: bool,
    vars: Vec<(&'a str, Val<'a>)>,
    steps: u64,
    depth: usize,
    /// How many enclosing `if`/`with`/`range` decided on a secret-derived value.
    tainted_branches: usize,
    pos: Pos,
}

/// The text of a render and whether any of it derives from a secret.
pub(crate) struct Output {
    pub(crate) text: String,
    pub(crate) sensitive: bool,
}

/// Renders the template's main tree against `data`.
pub(crate) fn render(tmpl: &Template, data: &Value, reader: Reader<'_>) -> R<Output> {
    let dot = reader.json(data).map_err(|e| secret_error(0, &e))?;
    let mut st = State {
        tmpl,
        reader,
        out: String::new(),
        sensitive: false,
        vars: vec![("$", dot.clone())],
        steps: 0,
        depth: 0,
        tainted_branches: 0,
        pos: 0,
    };
    let root = tmpl.trees.get(&tmpl.name).map_or(&[][..], Vec::as_slice);
    st.walk_list(&dot, root)?;
    Ok(Output {
        text: st.out,
        sensitive: st.sensitive,
    })
}

fn secret_error(pos: Pos, e: &UnresolvedSecret) -> ExecError {
    ExecError {
        pos,
        message: format!("secret `{}` was not resolved for this run", e.0),
        kind: ErrorKind::Secret,
    }
}

impl<'a, 's> State<'a, 's> {
    fn err(&self, message: impl Into<String>) -> ExecError {
        ExecError {
            pos: self.pos,
            message: message.into(),
            kind: ErrorKind::Render,
        }
    }

    fn limit(&self, message: String) -> ExecError {
        ExecError {
            pos: self.pos,
            message,
            kind: ErrorKind::Limit,
        }
    }

    fn fmt_error(&self, e: FmtError) -> ExecError {
        match e {
            FmtError::Secret(s) => secret_error(self.pos, &s),
            FmtError::TooLarge(n) => self.limit(format!("text larger than {n} bytes")),
            FmtError::TooDeep => self.err("value nested too deeply to print"),
        }
    }

    fn step(&mut self, n: u64) -> R<()> {
        self.steps += n;
        if self.steps > MAX_STEPS {
            return Err(self.limit(format!(
                "template did more than {MAX_STEPS} steps (the step limit of one render)"
            )));
        }
        Ok(())
    }

    fn text_steps(&mut self, bytes: usize) -> R<()> {
        self.step((bytes / BYTES_PER_STEP) as u64)
    }

    fn write(&mut self, s: &str, tainted: bool) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.limit(format!("output larger than {MAX_OUTPUT} bytes")));
        }
        self.text_steps(s.len())?;
        self.out.push_str(s);
        if tainted || self.tainted_branches > 0 {
            self.sensitive = true;
        }
        Ok(())
    }

    fn json(&self, v: &'a Value) -> R<Val<'a>> {
        self.reader.json(v).map_err(|e| secret_error(self.pos, &e))
    }

    fn shown(&self, v: &Val<'_>) -> String {
        shown(v, self.reader)
    }

    // ---- walking ----

    fn walk_list(&mut self, dot: &Val<'a>, nodes: &'a [Node]) -> R<Flow> {
        if self.depth >= MAX_DEPTH {
            return Err(self.limit(format!(
                "templates nested too deeply (more than {MAX_DEPTH} levels of blocks and template calls)"
            )));
        }
        self.depth += 1;
        let r = self.walk_nodes(dot, nodes);
        self.depth -= 1;
        r
    }

    fn walk_nodes(&mut self, dot: &Val<'a>, nodes: &'a [Node]) -> R<Flow> {
        for n in nodes {
            let flow = self.walk(dot, n)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Val<'a>, node: &'a Node) -> R<Flow> {
        self.step(1)?;
        match node {
            Node::Text { text } => {
                let src: &'a str = &self.tmpl.source;
                self.write(&src[text.clone()], false)?;
            }
            Node::Action { pos, pipe } => {
                self.pos = *pos;
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(&v)?;
                }
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Branch(b) if b.kind == BranchKind::Range => return self.walk_range(dot, b),
            Node::Branch(b) => return self.walk_if_or_with(dot, b),
            Node::Template { pos, name, pipe } => {
                self.pos = *pos;
                let Some(body) = self.tmpl.trees.get(name) else {
                    return Err(self.err(format!(
                        "template {} not defined",
                        super::escape::quote(name)
                    )));
                };
                let arg = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Val::nil(),
                };
                let saved = std::mem::replace(&mut self.vars, vec![("$", arg.clone())]);
                let r = self.walk_list(&arg, body);
                self.vars = saved;
                r?;
            }
        }
        Ok(Flow::Normal)
    }

    fn print_value(&mut self, v: &Val<'a>) -> R<()> {
        if matches!(v.kind, Kind::Nil) {
            return self.write("<no value>", v.tainted);
        }
        if let Kind::Str(s) = &v.kind {
            return self.write(s.as_str(), v.tainted);
        }
        let mut p = Printer::new(self.reader, MAX_OUTPUT.saturating_sub(self.out.len()));
        p.sprint(std::slice::from_ref(v))
            .map_err(|e| self.fmt_error(e))?;
        let (s, tainted) = p.finish();
        self.write(&s, tainted)
    }

    fn walk_if_or_with(&mut self, dot: &Val<'a>, b: &'a Branch) -> R<Flow> {
        let mark = self.vars.len();
        self.pos = b.pos;
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let branch_taint = usize::from(val.tainted);
        self.tainted_branches += branch_taint;
        let r = if val.truth() {
            if b.kind == BranchKind::With {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(Flow::Normal)
        };
        self.tainted_branches -= branch_taint;
        self.vars.truncate(mark);
        r
    }

    fn set_var(&mut self, name: &str, value: Val<'a>) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.err(format!("undefined variable: {name}"))),
        }
    }

    fn walk_range(&mut self, dot: &Val<'a>, r: &'a Branch) -> R<Flow> {
        let outer = self.vars.len();
        self.pos = r.pos;
        let val = self.eval_pipeline(dot, &r.pipe)?;
        let mark = self.vars.len();
        let branch_taint = usize::from(val.tainted);
        self.tainted_branches += branch_taint;
        let result = self.range_items(&val, r, mark);
        self.tainted_branches -= branch_taint;
        let ran = result?;
        if !ran && let Some(e) = &r.else_list {
            self.walk_list(dot, e)?;
        }
        self.vars.truncate(outer);
        // `break` and `continue` end at their own range.
        Ok(Flow::Normal)
    }

    /// Runs the body once per element; whether there was any.
    fn range_items(&mut self, val: &Val<'a>, r: &'a Branch, mark: usize) -> R<bool> {
        match &val.kind {
            Kind::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let elem = self.json(item)?;
                    let index = Val::new(Kind::Int(i64::try_from(i).unwrap_or(i64::MAX)));
                    if self.one_iteration(r, mark, index, &elem)? == Flow::Break {
                        break;
                    }
                }
                Ok(!items.is_empty())
            }
            Kind::Map(m) => {
                let entries = sorted_entries(m);
                self.step(entries.len() as u64)?;
                for (k, item) in entries {
                    let key = self
                        .reader
                        .text(k)
                        .map_err(|e| secret_error(self.pos, &e))?;
                    let elem = self.json(item)?;
                    if self.one_iteration(r, mark, key, &elem)? == Flow::Break {
                        break;
                    }
                }
                Ok(!m.is_empty())
            }
            Kind::Int(_) | Kind::Uint(_) | Kind::Byte(_) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.err(format!(
                        "can't use {} to iterate over more than one variable",
                        self.shown(val)
                    )));
                }
                let n: u64 = match val.kind {
                    Kind::Int(i) => u64::try_from(i).unwrap_or(0),
                    Kind::Uint(u) => u,
                    Kind::Byte(b) => u64::from(b),
                    _ => 0,
                };
                // Counts lazily: `range 100000000` allocates nothing and stops at the step limit.
                for i in 0..n {
                    let elem = match val.kind {
                        Kind::Int(_) => Kind::Int(i64::try_from(i).unwrap_or(i64::MAX)),
                        Kind::Byte(_) => Kind::Byte(u8::try_from(i).unwrap_or(u8::MAX)),
                        _ => Kind::Uint(i),
                    };
                    let elem = Val::new(elem).taint(val.tainted);
                    if self.one_iteration(r, mark, Val::nil(), &elem)? == Flow::Break {
                        break;
                    }
                }
                Ok(n > 0)
            }
            Kind::Nil => Ok(false),
            _ => Err(self.err(format!("range can't iterate over {}", self.shown(val)))),
        }
    }

    fn one_iteration(
        &mut self,
        r: &'a Branch,
        mark: usize,
        index: Val<'a>,
        elem: &Val<'a>,
    ) -> R<Flow> {
        self.step(1)?;
        let decl = &r.pipe.decl;
        if r.pipe.is_assign {
            match decl.as_slice() {
                [x] => self.set_var(x, elem.clone())?,
                [i, x] => {
                    self.set_var(i, index)?;
                    self.set_var(x, elem.clone())?;
                }
                _ => {}
            }
        } else {
            let top = self.vars.len();
            if !decl.is_empty() {
                self.vars[top - 1].1 = elem.clone();
            }
            if decl.len() > 1 {
                self.vars[top - 2].1 = index;
            }
        }
        let flow = self.walk_list(elem, &r.list);
        self.vars.truncate(mark);
        flow
    }

    // ---- evaluation ----

    fn eval_pipeline(&mut self, dot: &Val<'a>, pipe: &'a Pipe) -> R<Val<'a>> {
        self.pos = pipe.pos;
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_else(Val::nil);
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var, value.clone())?;
            } else {
                self.vars.push((var.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], piped: bool) -> R<()> {
        if args.len() > 1 || piped {
            return Err(self.err(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val<'a>,
        cmd: &'a Command,
        final_: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        self.step(1)?;
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, idents } => {
                self.pos = *pos;
                return self.eval_field_chain(
                    dot.clone(),
                    idents,
                    &FieldPath::Dot(idents),
                    &cmd.args,
                    final_.is_some(),
                );
            }
            Arg::Chain { .. } => {
                return self.eval_chain(dot, first, &cmd.args, final_.is_some());
            }
            Arg::Identifier { pos, name } => {
                self.pos = *pos;
                return self.eval_function(dot, name, &cmd.args[1..], final_);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, final_.is_some())?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => {
                return self.eval_variable(first, &cmd.args, final_.is_some());
            }
            _ => {}
        }
        self.pos = first.pos();
        self.not_a_function(&cmd.args, final_.is_some())?;
        self.literal(dot, first)
    }

    fn literal(&self, dot: &Val<'a>, arg: &'a Arg) -> R<Val<'a>> {
        Ok(match arg {
            Arg::Bool { value, .. } => Val::new(Kind::Bool(*value)),
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => return Err(self.err("nil is not a command")),
            Arg::Number { number, .. } => match number.value {
                Ideal::Int(i) => Val::new(Kind::Int(i)),
                Ideal::Float(f) => Val::new(Kind::Float(f)),
                Ideal::Complex => {
                    return Err(self.err(format!(
                        "complex number {} is not supported (Vigo templates have no complex numbers)",
                        number.text
                    )));
                }
                Ideal::Overflow => return Err(self.err(format!("{} overflows int", number.text))),
            },
            Arg::String { text, .. } => Val::new(Kind::Str(Text::Borrowed(text))),
            other => return Err(self.err(format!("can't evaluate command {other}"))),
        })
    }

    fn eval_variable(&mut self, var: &'a Arg, args: &'a [Arg], piped: bool) -> R<Val<'a>> {
        let Arg::Variable { pos, idents } = var else {
            return Err(self.err("internal error: not a variable"));
        };
        self.pos = *pos;
        let name = idents[0].as_str();
        let value = self
            .vars
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(format!("undefined variable: {name}")))?;
        if idents.len() == 1 {
            if !args.is_empty() {
                self.not_a_function(args, piped)?;
            }
            return Ok(value);
        }
        self.eval_field_chain(value, &idents[1..], &FieldPath::Var(idents), args, piped)
    }

    fn eval_chain(
        &mut self,
        dot: &Val<'a>,
        chain: &'a Arg,
        args: &'a [Arg],
        piped: bool,
    ) -> R<Val<'a>> {
        let Arg::Chain { pos, node, fields } = chain else {
            return Err(self.err("internal error: not a chain"));
        };
        self.pos = *pos;
        if matches!(**node, Arg::Nil { .. }) {
            return Err(self.err(format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, node)?;
        self.pos = *pos;
        self.eval_field_chain(
            receiver,
            fields,
            &FieldPath::Chain(node, fields),
            args,
            piped,
        )
    }

    /// `receiver.A.B…`; the last field gets the command's arguments (`args`, whose first
    /// is the chain itself, and a piped value when `piped`), which a map field refuses.
    fn eval_field_chain(
        &mut self,
        receiver: Val<'a>,
        idents: &'a [String],
        path: &FieldPath<'a>,
        args: &[Arg],
        piped: bool,
    ) -> R<Val<'a>> {
        let n = idents.len();
        let mut value = receiver;
        for (i, name) in idents.iter().enumerate() {
            let has_args = i == n - 1 && (args.len() > 1 || piped);
            value = self.eval_field(name, &value, has_args, path, i)?;
        }
        Ok(value)
    }

    fn eval_field(
        &mut self,
        name: &str,
        receiver: &Val<'a>,
        has_args: bool,
        path: &FieldPath<'a>,
        i: usize,
    ) -> R<Val<'a>> {
        let taint = receiver.tainted;
        match &receiver.kind {
            Kind::Map(m) => {
                if has_args {
                    return Err(self.err(format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(v) => Ok(self.json(v)?.taint(taint)),
                    None => Err(self.err(format!(
                        "map has no entry for key {} (at {})",
                        super::escape::quote(name),
                        path.upto(i)
                    ))),
                }
            }
            Kind::Nil => Err(self.err(format!(
                "nil value has no field {name} (at {})",
                path.upto(i)
            ))),
            _ => Err(self.err(format!(
                "can't evaluate field {name} in type {} (at {})",
                receiver.type_name(),
                path.upto(i)
            ))),
        }
    }

    /// An operand of a function.
    fn eval_arg(&mut self, dot: &Val<'a>, arg: &'a Arg) -> R<Val<'a>> {
        self.pos = arg.pos();
        match arg {
            Arg::Nil { .. } => Ok(Val::nil()),
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot.clone(), idents, &FieldPath::Dot(idents), &[], false)
            }
            Arg::Variable { .. } => self.eval_variable(arg, &[], false),
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Identifier { name, .. } => self.eval_function(dot, name, &[], None),
            Arg::Chain { .. } => self.eval_chain(dot, arg, &[], false),
            _ => self.literal(dot, arg),
        }
    }

    /// The `string` first operand of `printf`.
    fn eval_string_arg(&mut self, dot: &Val<'a>, arg: &'a Arg) -> R<Val<'a>> {
        match arg {
            Arg::String { .. } => self.eval_arg(dot, arg),
            Arg::Nil { .. } => Err(self.err("cannot assign nil to string")),
            Arg::Bool { .. } | Arg::Number { .. } => {
                Err(self.err(format!("expected string; found {arg}")))
            }
            _ => {
                let v = self.eval_arg(dot, arg)?;
                self.validate_string(v)
            }
        }
    }

    fn validate_string(&self, v: Val<'a>) -> R<Val<'a>> {
        match v.kind {
            Kind::Str(_) => Ok(v),
            Kind::Nil => Err(self.err("invalid value; expected string")),
            _ => Err(self.err(format!(
                "wrong type for value; expected string; got {}",
                v.type_name()
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Val<'a>,
        name: &'a str,
        args: &'a [Arg],
        final_: Option<Val<'a>>,
    ) -> R<Val<'a>> {
        let call_pos = self.pos;
        let given = args.len() + usize::from(final_.is_some());
        match funcs::arity(name) {
            Arity::Exactly(n) if given != n => {
                return Err(self.err(format!(
                    "wrong number of args for {name}: want {n} got {given}"
                )));
            }
            Arity::AtLeast(n) if given < n => {
                return Err(self.err(format!(
                    "wrong number of args for {name}: want at least {n} got {}",
                    args.len()
                )));
            }
            _ => {}
        }
        if name == "and" || name == "or" {
            // Short-circuit: the deciding operand is the result, as in Go.
            let mut taint = false;
            let mut v = Val::nil();
            for a in args {
                v = self.eval_arg(dot, a)?;
                taint |= v.tainted;
                if v.truth() == (name == "or") {
                    return Ok(v.taint(taint));
                }
            }
            if let Some(f) = final_ {
                taint |= f.tainted;
                v = f;
            }
            return Ok(v.taint(taint));
        }
        let mut values = Vec::with_capacity(given);
        for (i, a) in args.iter().enumerate() {
            let v = if i == 0 && name == "printf" {
                self.eval_string_arg(dot, a)?
            } else {
                self.eval_arg(dot, a)?
            };
            values.push(v);
        }
        if let Some(f) = final_ {
            values.push(if values.is_empty() && name == "printf" {
                self.validate_string(f)?
            } else {
                f
            });
        }
        self.pos = call_pos;
        let result = funcs::call(name, &values, self.reader, MAX_OUTPUT).map_err(|e| match e {
            CallError::Msg(m) => self.err(format!("error calling {name}: {m}")),
            CallError::Fmt(f) => self.fmt_error(f),
        })?;
        if let Some(s) = result.as_str() {
            self.text_steps(s.len())?;
        }
        Ok(result)
    }
}

/// How a field chain is shown in errors.
enum FieldPath<'a> {
    Dot(&'a [String]),
    Var(&'a [String]),
    Chain(&'a Arg, &'a [String]),
}

impl FieldPath<'_> {
    /// The chain up to field `i`, e.g. `.Vars.port`.
    fn upto(&self, i: usize) -> String {
        match self {
            FieldPath::Dot(idents) => idents[..=i].iter().map(|x| format!(".{x}")).collect(),
            FieldPath::Var(idents) => idents[..=i + 1].join("."),
            FieldPath::Chain(node, fields) => {
                let tail: String = fields[..=i].iter().map(|x| format!(".{x}")).collect();
                format!("{node}{tail}")
            }
        }
    }
}
