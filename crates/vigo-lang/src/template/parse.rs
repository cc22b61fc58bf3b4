//! The parser: items into trees, a port of Go's `text/template/parse/parse.go`.
//!
//! Recursive descent with Go's three-item lookahead. Nesting (blocks and parentheses,
//! counted together) is limited to [`MAX_DEPTH`](super::MAX_DEPTH) so hostile input gets an
//! error instead of a stack overflow; every item is looked at a bounded number of times,
//! so parsing is linear in the input.

use std::collections::HashMap;

use super::MAX_DEPTH;
use super::escape::{unquote, unquote_char_constant};
use super::lex::{Item, ItemType, Lexer};
use super::node::{
    Arg, Branch, BranchKind, Command, Ideal, Node, Number, Pipe, Pos, is_empty_tree,
};
use super::number::parse_number;

/// A parse error: where (byte offset) and what.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

type R<T> = Result<T, ParseError>;

/// The templates of one source text: the main one under its name, and every `define`d
/// or `block` one.
pub(crate) type Trees = HashMap<String, Vec<Node>>;

/// What a list of nodes ended with.
enum End {
    End,
    Else { pos: Pos },
}

struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    token: [Item<'a>; 3],
    peek_count: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    trees: Trees,
}

fn eof_item<'a>() -> Item<'a> {
    Item {
        typ: ItemType::Eof,
        pos: 0,
        val: "".into(),
        line: 1,
    }
}

/// The names of the built-in functions.
pub(crate) fn is_function(name: &str) -> bool {
    super::funcs::NAMES.contains(&name)
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item<'a>) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item<'a>, t1: Item<'a>) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            pos: self.token[0].pos,
            message: message.into(),
        }
    }

    fn error_at(pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            pos,
            message: message.into(),
        }
    }

    fn unexpected(&self, token: &Item<'_>, context: &str) -> ParseError {
        if token.typ == ItemType::Error {
            return Self::error_at(token.pos, token.val.to_string());
        }
        Self::error_at(token.pos, format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> R<Item<'a>> {
        let t = self.next_non_space();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn enter(&mut self, pos: Pos) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Self::error_at(
                pos,
                format!(
                    "nested too deeply (more than {MAX_DEPTH} levels of blocks and parentheses)"
                ),
            ));
        }
        Ok(())
    }

    /// Go's `Tree.add`: a second non-empty definition of a name is an error.
    fn add(&mut self, name: String, list: Vec<Node>, pos: Pos) -> R<()> {
        match self.trees.get(&name) {
            Some(old) if !is_empty_tree(self.src, old) => {
                if !is_empty_tree(self.src, &list) {
                    return Err(Self::error_at(
                        pos,
                        format!(
                            "multiple definition of template {}",
                            super::escape::quote(&name)
                        ),
                    ));
                }
            }
            _ => {
                self.trees.insert(name, list);
            }
        }
        Ok(())
    }

    fn parse_main(&mut self, name: &str) -> R<()> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition(delim.pos)?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action(None)? {
                Parsed::Node(n) => root.push(n),
                Parsed::End(pos) => return Err(Self::error_at(pos, "unexpected `end`")),
                Parsed::Else(pos) => return Err(Self::error_at(pos, "unexpected `else`")),
            }
        }
        self.add(name.to_owned(), root, 0)
    }

    fn parse_definition(&mut self, start: Pos) -> R<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let (list, end) = self.item_list(("define", start))?;
        self.vars = saved;
        if let End::Else { pos, .. } = end {
            return Err(Self::error_at(pos, "unexpected {{else}} in define clause"));
        }
        self.add(name, list, start)
    }

    /// Nodes up to `{{end}}` or `{{else}}`; `context` names the opening action for the
    /// error when the input ends first.
    fn item_list(&mut self, context: (&str, Pos)) -> R<(Vec<Node>, End)> {
        self.enter(context.1)?;
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action(Some(context))? {
                Parsed::Node(n) => list.push(n),
                Parsed::End(_) => {
                    self.depth -= 1;
                    return Ok((list, End::End));
                }
                Parsed::Else(pos) => {
                    self.depth -= 1;
                    return Ok((list, End::Else { pos }));
                }
            }
        }
        Err(Self::error_at(
            context.1,
            format!("`{}` has no `end`", context.0),
        ))
    }

    fn text_or_action(&mut self, context: Option<(&str, Pos)>) -> R<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                text: token.pos..token.pos + token.val.len(),
            })),
            ItemType::LeftDelim => self.action(token.pos, context),
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self, start: Pos, _context: Option<(&str, Pos)>) -> R<Parsed> {
        let token = self.next_non_space();
        let node = match token.typ {
            ItemType::Block => self.block_control(start)?,
            ItemType::Break | ItemType::Continue => {
                let name = if token.typ == ItemType::Break {
                    "break"
                } else {
                    "continue"
                };
                let t = self.next_non_space();
                if t.typ != ItemType::RightDelim {
                    return Err(self.unexpected(&t, &format!("{{{{{name}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(Self::error_at(
                        token.pos,
                        format!("{{{{{name}}}}} outside {{{{range}}}}"),
                    ));
                }
                if token.typ == ItemType::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            ItemType::Else => {
                let peek = self.peek_non_space();
                if matches!(peek.typ, ItemType::If | ItemType::With) {
                    return Ok(Parsed::Else(start));
                }
                self.expect(ItemType::RightDelim, "else")?;
                return Ok(Parsed::Else(start));
            }
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End(start));
            }
            ItemType::If => self.control(BranchKind::If, start)?,
            ItemType::Range => self.control(BranchKind::Range, start)?,
            ItemType::With => self.control(BranchKind::With, start)?,
            ItemType::Template => self.template_control()?,
            _ => {
                self.backup();
                let pos = self.peek().pos;
                Node::Action {
                    pos,
                    pipe: self.pipeline("command", ItemType::RightDelim)?,
                }
            }
        };
        Ok(Parsed::Node(node))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> R<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations or assignments: `$x :=`, `$x =`, `$i, $x :=` (range only).
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    if pipe.is_assign {
                        // Go checks this only when executing; an undefined target always fails.
                        self.use_var(&v)?;
                    } else {
                        self.vars.push(v.val.to_string());
                    }
                    pipe.decl.push(v.val.to_string());
                    break;
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.to_string());
                    self.vars.push(v.val.to_string());
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue;
                            }
                            _ => return Err(self.error("range can only initialize variables")),
                        }
                    }
                    return Err(self.error(format!("too many declarations in {context}")));
                }
                _ if after.typ == ItemType::Space => {
                    self.backup3(v, after);
                    break;
                }
                _ => {
                    self.backup2(v);
                    break;
                }
            }
        }
        if pipe.is_assign && pipe.decl.len() == 2 {
            // `$i, $x = …` assigns both; the first was pushed as a declaration above.
            let first = pipe.decl[0].clone();
            if let Some(i) = self.vars.iter().rposition(|v| *v == first) {
                self.vars.remove(i);
            }
            self.check_defined(&first, pipe.pos)?;
        }
        loop {
            let token = self.next_non_space();
            match token.typ {
                t if t == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_defined(&self, name: &str, pos: Pos) -> R<()> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            Err(Self::error_at(
                pos,
                format!("undefined variable {}", super::escape::quote(name)),
            ))
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> R<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Number { .. }
                    | Arg::String { .. }
            ) {
                return Err(Self::error_at(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn control(&mut self, kind: BranchKind, start: Pos) -> R<Node> {
        let (context, keyword) = match kind {
            BranchKind::If => ("if", "if"),
            BranchKind::Range => ("range", "range"),
            BranchKind::With => ("with", "with"),
        };
        let mark = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if kind == BranchKind::Range {
            self.range_depth += 1;
        }
        let listed = self.item_list((keyword, start));
        if kind == BranchKind::Range {
            self.range_depth -= 1;
        }
        let (list, next) = listed?;
        let else_list = match next {
            End::End => None,
            End::Else { pos, .. } => {
                // `{{else if …}}` / `{{else with …}}`: a nested block sharing our `{{end}}`.
                let peek = self.peek_non_space();
                let chained = match (kind, peek.typ) {
                    (BranchKind::If, ItemType::If) => Some(BranchKind::If),
                    (BranchKind::With, ItemType::With) => Some(BranchKind::With),
                    _ => None,
                };
                if let Some(k) = chained {
                    // The nested block's own list counts one level of nesting.
                    self.next_non_space();
                    Some(vec![self.control(k, pos)?])
                } else {
                    if matches!(peek.typ, ItemType::If | ItemType::With) {
                        return Err(self.unexpected(&peek, "else"));
                    }
                    let (else_list, end) = self.item_list((keyword, start))?;
                    if let End::Else { pos, .. } = end {
                        return Err(Self::error_at(
                            pos,
                            format!(
                                "expected end; found {{{{else}}}} (a second `else` in `{keyword}`)"
                            ),
                        ));
                    }
                    Some(else_list)
                }
            }
        };
        self.vars.truncate(mark);
        Ok(Node::Branch(Box::new(Branch {
            kind,
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })))
    }

    fn block_control(&mut self, start: Pos) -> R<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_range = std::mem::take(&mut self.range_depth);
        let listed = self.item_list(("block", start));
        self.vars = saved;
        self.range_depth = saved_range;
        let (list, end) = listed?;
        if let End::Else { pos, .. } = end {
            return Err(Self::error_at(pos, "unexpected {{else}} in block clause"));
        }
        self.add(name.clone(), list, start)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> R<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = if self.next_non_space().typ == ItemType::RightDelim {
            None
        } else {
            self.backup();
            Some(self.pipeline(CONTEXT, ItemType::RightDelim)?)
        };
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn template_name(&self, token: &Item<'_>, context: &str) -> R<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => {
                unquote(&token.val).map_err(|m| Self::error_at(token.pos, m))
            }
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn command(&mut self) -> R<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {
                    // Go accepts an empty command after `|` (`{{ .X | }}`); Vigo refuses it.
                    let after = self.peek_non_space();
                    if matches!(after.typ, ItemType::RightDelim | ItemType::RightParen) {
                        return Err(Self::error_at(token.pos, "missing command after `|`"));
                    }
                }
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> R<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            fields.push(self.next().val[1..].to_owned());
        }
        Ok(Some(match node {
            Arg::Field { pos, mut idents } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { pos, mut idents } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(Self::error_at(
                    chain_pos,
                    format!(
                        "unexpected . after term {}",
                        super::escape::quote(&node.to_string())
                    ),
                ));
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn use_var(&self, token: &Item<'_>) -> R<Arg> {
        let idents: Vec<String> = token.val.split('.').map(str::to_owned).collect();
        if !self.vars.iter().any(|v| *v == idents[0]) {
            return Err(Self::error_at(
                token.pos,
                format!("undefined variable {}", super::escape::quote(&idents[0])),
            ));
        }
        Ok(Arg::Variable {
            pos: token.pos,
            idents,
        })
    }

    fn term(&mut self) -> R<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                if !is_function(&token.val) {
                    return Err(Self::error_at(pos, undefined_function(&token.val)));
                }
                Arg::Identifier {
                    pos,
                    name: token.val.to_string(),
                }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => self.use_var(&token)?,
            ItemType::Field => Arg::Field {
                pos,
                idents: token.val[1..].split('.').map(str::to_owned).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => Arg::Number {
                pos,
                number: Box::new(self.number(&token)?),
            },
            ItemType::LeftParen => {
                self.enter(pos)?;
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            ItemType::String | ItemType::RawString => Arg::String {
                pos,
                quoted: token.val.to_string(),
                text: unquote(&token.val).map_err(|m| Self::error_at(pos, m))?,
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn number(&self, token: &Item<'_>) -> R<Number> {
        let text = token.val.to_string();
        let value = match token.typ {
            ItemType::CharConstant => {
                let v = unquote_char_constant(&text).map_err(|m| Self::error_at(token.pos, m))?;
                Ideal::Int(i64::from(v))
            }
            ItemType::Complex => {
                parse_number(&text, true).map_err(|m| Self::error_at(token.pos, m))?
            }
            _ => parse_number(&text, false).map_err(|m| Self::error_at(token.pos, m))?,
        };
        Ok(Number { text, value })
    }
}

/// A parsed piece of a list.
enum Parsed {
    Node(Node),
    End(Pos),
    Else(Pos),
}

/// "function `x` not defined", with a hint when a built-in is close.
fn undefined_function(name: &str) -> String {
    let hint = vigo_core::suggest::did_you_mean(name, super::funcs::NAMES.iter().copied())
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    format!("function `{name}` not defined{hint}")
}

/// Parses `src` into its templates; the main one is stored under `name`.
pub(crate) fn parse(name: &str, src: &str) -> Result<Trees, ParseError> {
    let mut p = Parser {
        src,
        lex: Lexer::new(src),
        token: [eof_item(), eof_item(), eof_item()],
        peek_count: 0,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        depth: 0,
        trees: HashMap::new(),
    };
    p.parse_main(name)?;
    Ok(p.trees)
}
