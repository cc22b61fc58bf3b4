//! Actions and text into a tree of nodes.

use std::collections::HashMap;

use super::lex::{Piece, Tok, split};
use super::{MAX_DEPTH, TemplateError};

/// An operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// `.`
    Dot,
    /// `.A.B`
    Field(Vec<String>),
    /// `$x.A` (`$` is the name `""`).
    Var(String, Vec<String>),
    /// A function to call.
    Func(String),
    /// A string.
    Str(String),
    /// A number (and whether it was written as an integer).
    Num(f64, bool),
    /// `true`/`false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `( pipeline ).A.B`
    Sub(Box<Pipeline>, Vec<String>),
}

/// `[$x :=] cmd | cmd …`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`).
    pub(crate) vars: Vec<String>,
    /// Whether `vars` are assigned rather than declared.
    pub(crate) assign: bool,
    /// The commands; each one's result is the next one's last argument.
    pub(crate) cmds: Vec<Vec<Arg>>,
}

/// A node of the tree, with the position of its action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`.
    Action { pos: (usize, usize), pipe: Pipeline },
    /// `{{ if }}…{{ else }}…{{ end }}`.
    If {
        pos: (usize, usize),
        pipe: Pipeline,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    /// `{{ range }}…{{ else }}…{{ end }}`.
    Range {
        pos: (usize, usize),
        pipe: Pipeline,
        body: Vec<Node>,
        els: Vec<Node>,
    },
    /// `{{ with }}…{{ else }}…{{ end }}`.
    With {
        pos: (usize, usize),
        pipe: Pipeline,
        body: Vec<Node>,
        els: Vec<Node>,
    },
    /// `{{ template "name" pipeline }}`.
    Template {
        pos: (usize, usize),
        name: String,
        pipe: Option<Pipeline>,
    },
}

impl Node {
    /// Adds the `.`-rooted field paths this node reads.
    pub(crate) fn collect_fields(&self, out: &mut Vec<String>) {
        let pipe_fields = |p: &Pipeline, out: &mut Vec<String>| {
            for cmd in &p.cmds {
                for a in cmd {
                    match a {
                        Arg::Field(f) => out.push(f.join(".")),
                        Arg::Sub(p, _) => Node::Action {
                            pos: (0, 0),
                            pipe: (**p).clone(),
                        }
                        .collect_fields(out),
                        _ => {}
                    }
                }
            }
        };
        match self {
            Node::Text(_) => {}
            Node::Action { pipe, .. } => pipe_fields(pipe, out),
            Node::Template { pipe, .. } => {
                if let Some(p) = pipe {
                    pipe_fields(p, out);
                }
            }
            Node::If {
                pipe,
                then: a,
                els: b,
                ..
            }
            | Node::Range {
                pipe,
                body: a,
                els: b,
                ..
            }
            | Node::With {
                pipe,
                body: a,
                els: b,
                ..
            } => {
                pipe_fields(pipe, out);
                for n in a.iter().chain(b) {
                    n.collect_fields(out);
                }
            }
        }
    }
}

struct Parser<'a> {
    name: &'a str,
    pieces: Vec<Piece>,
    at: usize,
    defs: HashMap<String, Vec<Node>>,
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End,
    Else(Vec<Tok>, (usize, usize)),
}

impl Parser<'_> {
    fn err(&self, pos: (usize, usize), message: impl Into<String>) -> TemplateError {
        TemplateError {
            name: self.name.to_owned(),
            line: pos.0,
            col: pos.1,
            message: message.into(),
        }
    }

    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Stop), TemplateError> {
        if depth > MAX_DEPTH {
            return Err(self.err((0, 0), "blocks nested too deeply"));
        }
        let mut nodes = Vec::new();
        while self.at < self.pieces.len() {
            let piece = self.pieces[self.at].clone();
            self.at += 1;
            let (tokens, pos) = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action { tokens, line, col } => (tokens, (line, col)),
            };
            let keyword = match tokens.first() {
                Some(Tok::Ident(k)) => k.as_str(),
                _ => "",
            };
            match keyword {
                "end" => {
                    if tokens.len() > 1 {
                        return Err(self.err(pos, "unexpected words after `end`"));
                    }
                    return Ok((nodes, Stop::End));
                }
                "else" => return Ok((nodes, Stop::Else(tokens[1..].to_vec(), pos))),
                "if" | "range" | "with" => {
                    nodes.push(self.block(keyword, &tokens[1..], pos, depth)?);
                }
                "define" | "block" => {
                    let Some(Tok::Str(name)) = tokens.get(1) else {
                        return Err(
                            self.err(pos, format!("`{keyword}` needs a quoted template name"))
                        );
                    };
                    let name = name.clone();
                    let (body, end) = self.list(depth + 1)?;
                    if !matches!(end, Stop::End) {
                        return Err(self.err(pos, format!("`{keyword} \"{name}\"` has no `end`")));
                    }
                    if keyword == "block" {
                        let pipe = if tokens.len() > 2 {
                            Some(self.pipeline(&tokens[2..], pos)?)
                        } else {
                            None
                        };
                        nodes.push(Node::Template {
                            pos,
                            name: name.clone(),
                            pipe,
                        });
                    }
                    self.defs.insert(name, body);
                }
                "template" => {
                    let Some(Tok::Str(name)) = tokens.get(1) else {
                        return Err(self.err(pos, "`template` needs a quoted template name"));
                    };
                    let pipe = if tokens.len() > 2 {
                        Some(self.pipeline(&tokens[2..], pos)?)
                    } else {
                        None
                    };
                    nodes.push(Node::Template {
                        pos,
                        name: name.clone(),
                        pipe,
                    });
                }
                _ => nodes.push(Node::Action {
                    pos,
                    pipe: self.pipeline(&tokens, pos)?,
                }),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn block(
        &mut self,
        keyword: &str,
        toks: &[Tok],
        pos: (usize, usize),
        depth: usize,
    ) -> Result<Node, TemplateError> {
        if toks.is_empty() {
            return Err(self.err(pos, format!("`{keyword}` needs a pipeline")));
        }
        let pipe = self.pipeline(toks, pos)?;
        let (body, end) = self.list(depth + 1)?;
        let els = match end {
            Stop::Eof => return Err(self.err(pos, format!("`{keyword}` has no `end`"))),
            Stop::End => Vec::new(),
            Stop::Else(rest, else_pos) if rest.is_empty() => {
                let (els, end) = self.list(depth + 1)?;
                if !matches!(end, Stop::End) {
                    return Err(self.err(else_pos, format!("`else` of `{keyword}` has no `end`")));
                }
                els
            }
            Stop::Else(rest, else_pos) => match rest.first() {
                // `else if …` / `else with …`: a nested block that shares our `end`.
                Some(Tok::Ident(k)) if (k == "if" || k == "with") && k == keyword => {
                    let k = k.clone();
                    vec![self.block(&k, &rest[1..], else_pos, depth + 1)?]
                }
                _ => {
                    return Err(self.err(
                        else_pos,
                        format!("unexpected words after `else` in `{keyword}`"),
                    ));
                }
            },
        };
        Ok(match keyword {
            "if" => Node::If {
                pos,
                pipe,
                then: body,
                els,
            },
            "range" => Node::Range {
                pos,
                pipe,
                body,
                els,
            },
            _ => Node::With {
                pos,
                pipe,
                body,
                els,
            },
        })
    }

    fn pipeline(&self, toks: &[Tok], pos: (usize, usize)) -> Result<Pipeline, TemplateError> {
        let mut vars = Vec::new();
        let mut assign = false;
        let mut rest = toks;
        // `$x :=`, `$i, $x :=`, `$x =`
        let decl_at = toks
            .iter()
            .position(|t| matches!(t, Tok::Declare | Tok::Assign));
        if let Some(d) = decl_at
            && toks[..d]
                .iter()
                .all(|t| matches!(t, Tok::Var(_, f) if f.is_empty()) || matches!(t, Tok::Comma))
            && d > 0
        {
            for t in &toks[..d] {
                if let Tok::Var(name, _) = t {
                    vars.push(name.clone());
                }
            }
            assign = matches!(toks[d], Tok::Assign);
            rest = &toks[d + 1..];
        }
        let mut cmds = Vec::new();
        let mut i = 0;
        let mut cmd = Vec::new();
        while i < rest.len() {
            match &rest[i] {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(self.err(pos, "missing command before `|`"));
                    }
                    cmds.push(std::mem::take(&mut cmd));
                    i += 1;
                }
                _ => {
                    let (arg, next) = self.arg(rest, i, pos)?;
                    cmd.push(arg);
                    i = next;
                }
            }
        }
        if cmd.is_empty() {
            return Err(self.err(pos, "missing value"));
        }
        cmds.push(cmd);
        Ok(Pipeline { vars, assign, cmds })
    }

    fn arg(
        &self,
        toks: &[Tok],
        i: usize,
        pos: (usize, usize),
    ) -> Result<(Arg, usize), TemplateError> {
        Ok(match &toks[i] {
            Tok::Dot => (Arg::Dot, i + 1),
            Tok::Field(f) => (Arg::Field(f.clone()), i + 1),
            Tok::Var(n, f) => (Arg::Var(n.clone(), f.clone()), i + 1),
            Tok::Str(s) => (Arg::Str(s.clone()), i + 1),
            Tok::Num(n, int) => (Arg::Num(*n, *int), i + 1),
            Tok::Ident(k) => match k.as_str() {
                "true" => (Arg::Bool(true), i + 1),
                "false" => (Arg::Bool(false), i + 1),
                "nil" => (Arg::Nil, i + 1),
                "if" | "range" | "with" | "end" | "else" | "define" | "template" | "block" => {
                    return Err(self.err(pos, format!("unexpected `{k}` inside an action")));
                }
                f if super::funcs::is_function(f) => (Arg::Func(f.to_owned()), i + 1),
                f => {
                    let hint = super::funcs::NAMES
                        .iter()
                        .map(|n| (strsim::levenshtein(n, f), *n))
                        .filter(|(d, _)| *d <= 2)
                        .min()
                        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default();
                    return Err(self.err(pos, format!("function `{f}` not defined{hint}")));
                }
            },
            Tok::LParen => {
                let mut depth = 0usize;
                let mut j = i;
                let close = loop {
                    match toks.get(j) {
                        Some(Tok::LParen) => depth += 1,
                        Some(Tok::RParen(_)) => {
                            depth -= 1;
                            if depth == 0 {
                                break j;
                            }
                        }
                        None => return Err(self.err(pos, "unclosed `(`")),
                        _ => {}
                    }
                    j += 1;
                };
                let inner = self.pipeline(&toks[i + 1..close], pos)?;
                let fields = match &toks[close] {
                    Tok::RParen(f) => f.clone(),
                    _ => Vec::new(),
                };
                (Arg::Sub(Box::new(inner), fields), close + 1)
            }
            Tok::RParen(_) => return Err(self.err(pos, "unexpected `)`")),
            Tok::Comma | Tok::Declare | Tok::Assign | Tok::Pipe => {
                return Err(self.err(pos, "unexpected punctuation"));
            }
        })
    }
}

/// A template's main list and its `define`d templates.
pub(crate) type Parsed = (Vec<Node>, HashMap<String, Vec<Node>>);

/// Parses a whole template: its main list and its `define`d templates.
pub(crate) fn parse(name: &str, src: &str) -> Result<Parsed, TemplateError> {
    let pieces = split(name, src)?;
    let mut p = Parser {
        name,
        pieces,
        at: 0,
        defs: HashMap::new(),
    };
    let (nodes, end) = p.list(0)?;
    match end {
        Stop::Eof => Ok((nodes, p.defs)),
        Stop::End => Err(p.err(position_of_last(&p), "unexpected `end`")),
        Stop::Else(_, pos) => Err(p.err(pos, "unexpected `else`")),
    }
}

fn position_of_last(p: &Parser<'_>) -> (usize, usize) {
    p.pieces[..p.at]
        .iter()
        .rev()
        .find_map(|x| match x {
            Piece::Action { line, col, .. } => Some((*line, *col)),
            Piece::Text(_) => None,
        })
        .unwrap_or((1, 1))
}
