//! The parse tree, as Go's `text/template/parse` shapes it, and its canonical text
//! (`Display`), which Go's parser tests compare against.
//!
//! Positions are byte offsets into the template's source; line and column are computed
//! only when an error is reported.

use std::fmt::{self, Display, Formatter, Write as _};
use std::ops::Range;

/// A byte offset into the template source.
pub(crate) type Pos = usize;

/// A node of a list: text or an action.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal text: a range of the source.
    Text { text: Range<usize> },
    /// `{{ pipeline }}`.
    Action { pos: Pos, pipe: Pipe },
    /// `{{ if }}`, `{{ range }}` or `{{ with }}`.
    Branch(Box<Branch>),
    /// `{{ template "name" pipeline }}`.
    Template {
        pos: Pos,
        name: String,
        pipe: Option<Pipe>,
    },
    /// `{{ break }}`.
    Break,
    /// `{{ continue }}`.
    Continue,
}

/// Which control structure a [`Branch`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BranchKind {
    If,
    Range,
    With,
}

/// `{{ if|range|with pipeline }} list {{ else }} else_list {{ end }}`.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) kind: BranchKind,
    /// Where the pipeline starts.
    pub(crate) pos: Pos,
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

/// `[$x, $y :=|=] command | command …`.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub(crate) pos: Pos,
    /// The variables are assigned (`=`), not declared (`:=`).
    pub(crate) is_assign: bool,
    /// The declared or assigned variables (`$x`).
    pub(crate) decl: Vec<String>,
    pub(crate) cmds: Vec<Command>,
}

/// One stage of a pipeline: its first argument is the function or value.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) pos: Pos,
    pub(crate) args: Vec<Arg>,
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.A.B`.
    Field { pos: Pos, idents: Vec<String> },
    /// `$x.A.B` (`idents[0]` is `$x`).
    Variable { pos: Pos, idents: Vec<String> },
    /// A function name.
    Identifier { pos: Pos, name: String },
    /// `.`.
    Dot { pos: Pos },
    /// `nil`.
    Nil { pos: Pos },
    /// `true`/`false`.
    Bool { pos: Pos, value: bool },
    /// A number constant.
    Number { pos: Pos, number: Box<Number> },
    /// A string constant.
    String {
        pos: Pos,
        quoted: String,
        text: String,
    },
    /// `( pipeline )`.
    Pipe(Box<Pipe>),
    /// `(…).A.B` or `func.A`.
    Chain {
        pos: Pos,
        node: Box<Arg>,
        fields: Vec<String>,
    },
}

/// A number constant: its text and the value Go's rules give it where no type is known.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub(crate) text: String,
    pub(crate) value: Ideal,
}

/// The value of a number constant where no type is known (Go's `idealConstant`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ideal {
    /// An `int`.
    Int(i64),
    /// A `float64`.
    Float(f64),
    /// A complex constant (Go-only; an error when evaluated).
    Complex,
    /// An integer too large for `int`.
    Overflow,
}

impl Arg {
    /// Where the operand starts.
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl Display for Arg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => idents.iter().try_for_each(|i| write!(f, ".{i}")),
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::Number { number, .. } => f.write_str(&number.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "({p})"),
            Arg::Chain { node, fields, .. } => {
                write!(f, "{node}")?;
                fields.iter().try_for_each(|x| write!(f, ".{x}"))
            }
        }
    }
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl Display for Pipe {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Writes `nodes` as Go's `ListNode.String()` does with text shown quoted.
pub(crate) fn write_list(out: &mut String, src: &str, nodes: &[Node]) {
    for n in nodes {
        match n {
            Node::Text { text } => out.push_str(&super::escape::quote(&src[text.clone()])),
            Node::Action { pipe, .. } => {
                let _ = write!(out, "{{{{{pipe}}}}}");
            }
            Node::Branch(b) => {
                let kw = match b.kind {
                    BranchKind::If => "if",
                    BranchKind::Range => "range",
                    BranchKind::With => "with",
                };
                let _ = write!(out, "{{{{{kw} {}}}}}", b.pipe);
                write_list(out, src, &b.list);
                if let Some(e) = &b.else_list {
                    out.push_str("{{else}}");
                    write_list(out, src, e);
                }
                out.push_str("{{end}}");
            }
            Node::Template { name, pipe, .. } => {
                let _ = write!(out, "{{{{template {}", super::escape::quote(name));
                if let Some(p) = pipe {
                    let _ = write!(out, " {p}");
                }
                out.push_str("}}");
            }
            Node::Break => out.push_str("{{break}}"),
            Node::Continue => out.push_str("{{continue}}"),
        }
    }
}

/// Go's `IsEmptyTree`: nothing but space (comments are already gone).
pub(crate) fn is_empty_tree(src: &str, nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text { text } => src[text.clone()]
            .trim_matches(char::is_whitespace)
            .is_empty(),
        _ => false,
    })
}

/// Adds the field paths `nodes` read from `.` or `$` (e.g. `Vars.port`).
pub(crate) fn collect_fields(nodes: &[Node], out: &mut Vec<String>) {
    for n in nodes {
        match n {
            Node::Text { .. } | Node::Break | Node::Continue => {}
            Node::Action { pipe, .. } => pipe_fields(pipe, out),
            Node::Template { pipe, .. } => {
                if let Some(p) = pipe {
                    pipe_fields(p, out);
                }
            }
            Node::Branch(b) => {
                pipe_fields(&b.pipe, out);
                collect_fields(&b.list, out);
                if let Some(e) = &b.else_list {
                    collect_fields(e, out);
                }
            }
        }
    }
}

fn pipe_fields(p: &Pipe, out: &mut Vec<String>) {
    for c in &p.cmds {
        for a in &c.args {
            arg_fields(a, out);
        }
    }
}

fn arg_fields(a: &Arg, out: &mut Vec<String>) {
    match a {
        Arg::Field { idents, .. } => out.push(idents.join(".")),
        Arg::Variable { idents, .. } if idents[0] == "$" && idents.len() > 1 => {
            out.push(idents[1..].join("."));
        }
        Arg::Pipe(p) => pipe_fields(p, out),
        Arg::Chain { node, .. } => arg_fields(node, out),
        _ => {}
    }
}
