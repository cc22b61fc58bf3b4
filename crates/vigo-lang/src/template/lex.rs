//! The scanner: template text into items (text, delimiters, and the tokens inside actions).
//!
//! A port of Go's `text/template/parse/lex.go` state machine. It runs on demand (one item
//! per call), in time linear in the input, and tracks line numbers as it goes so no item
//! ever rescans the text before it.

use std::borrow::Cow;
use std::collections::VecDeque;

/// What kind of item the scanner produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemType {
    /// A scan error; the value is the message.
    Error,
    /// `true` or `false`.
    Bool,
    /// A printable ASCII character (punctuation like `,`).
    Char,
    /// A character constant such as `'a'`.
    CharConstant,
    /// A complex constant such as `1+2i`.
    Complex,
    /// `=`.
    Assign,
    /// `:=`.
    Declare,
    /// End of input.
    Eof,
    /// `.Name`.
    Field,
    /// A name that is not a keyword (a function).
    Identifier,
    /// `{{` (possibly with a trim marker).
    LeftDelim,
    /// `(`.
    LeftParen,
    /// A number.
    Number,
    /// `|`.
    Pipe,
    /// A raw string with its backquotes.
    RawString,
    /// `}}` (possibly with a trim marker).
    RightDelim,
    /// `)`.
    RightParen,
    /// A run of spaces.
    Space,
    /// A quoted string with its quotes.
    String,
    /// Plain text outside actions.
    Text,
    /// `$` or `$name`.
    Variable,
    /// `block`.
    Block,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `.` alone.
    Dot,
    /// `define`.
    Define,
    /// `else`.
    Else,
    /// `end`.
    End,
    /// `if`.
    If,
    /// `nil`.
    Nil,
    /// `range`.
    Range,
    /// `template`.
    Template,
    /// `with`.
    With,
}

impl ItemType {
    fn keyword(word: &str) -> Option<ItemType> {
        Some(match word {
            "block" => ItemType::Block,
            "break" => ItemType::Break,
            "continue" => ItemType::Continue,
            "define" => ItemType::Define,
            "else" => ItemType::Else,
            "end" => ItemType::End,
            "if" => ItemType::If,
            "range" => ItemType::Range,
            "nil" => ItemType::Nil,
            "template" => ItemType::Template,
            "with" => ItemType::With,
            _ => return None,
        })
    }

    fn is_keyword(self) -> bool {
        matches!(
            self,
            ItemType::Block
                | ItemType::Break
                | ItemType::Continue
                | ItemType::Dot
                | ItemType::Define
                | ItemType::Else
                | ItemType::End
                | ItemType::If
                | ItemType::Nil
                | ItemType::Range
                | ItemType::Template
                | ItemType::With
        )
    }
}

/// One scanned item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item<'a> {
    /// What it is.
    pub(crate) typ: ItemType,
    /// Byte offset of its start in the input.
    pub(crate) pos: usize,
    /// Its text (for errors: the message).
    pub(crate) val: Cow<'a, str>,
    /// 1-based line of its start.
    pub(crate) line: usize,
}

impl std::fmt::Display for Item<'_> {
    /// As Go's parser shows an item in "unexpected …" messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            ItemType::Eof => f.write_str("EOF"),
            ItemType::Error => f.write_str(&self.val),
            t if t.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", super::escape::quote(&head))
            }
            _ => f.write_str(&super::escape::quote(&self.val)),
        }
    }
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
/// A trim marker and the space next to it.
const TRIM_MARKER_LEN: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
    Done,
}

/// The scanner over one template's text.
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: usize,
    line: usize,
    start_line: usize,
    /// Where the current action's `{{` is, for "unclosed action" errors.
    action_start: (usize, usize),
    state: State,
    pending: VecDeque<Item<'a>>,
}

fn is_space(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t' | '\r' | '\n'))
}

fn is_alphanumeric(c: Option<char>) -> bool {
    c.is_some_and(|c| c == '_' || c.is_alphabetic() || c.is_numeric())
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(Some(b[1] as char))
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(Some(b[0] as char)) && b[1] == b'-'
}

const SPACE_CHARS: &[char] = &[' ', '\t', '\r', '\n'];

impl<'a> Lexer<'a> {
    /// A scanner at the start of `input`.
    pub(crate) fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            action_start: (0, 1),
            state: State::Text,
            pending: VecDeque::new(),
        }
    }

    /// The next item; after `Eof` or an `Error` it keeps returning `Eof`.
    pub(crate) fn next_item(&mut self) -> Item<'a> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return item;
            }
            if self.state == State::Done {
                return Item {
                    typ: ItemType::Eof,
                    pos: self.input.len(),
                    val: Cow::Borrowed(""),
                    line: self.line,
                };
            }
            self.state = self.step();
        }
    }

    fn next(&mut self) -> Option<char> {
        let Some(c) = self.input[self.pos..].chars().next() else {
            self.at_eof = true;
            return None;
        };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn backup(&mut self) {
        if !self.at_eof && self.pos > 0 {
            let c = self.input[..self.pos].chars().next_back().unwrap_or('\0');
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn emit(&mut self, typ: ItemType) {
        self.pending.push_back(Item {
            typ,
            pos: self.start,
            val: Cow::Borrowed(&self.input[self.start..self.pos]),
            line: self.start_line,
        });
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.next() {
            if !valid.contains(c) {
                break;
            }
        }
        self.backup();
    }

    fn error_at(&mut self, pos: usize, line: usize, message: String) -> State {
        self.pending.push_back(Item {
            typ: ItemType::Error,
            pos,
            val: Cow::Owned(message),
            line,
        });
        State::Done
    }

    fn errorf(&mut self, message: String) -> State {
        self.error_at(self.start, self.start_line, message)
    }

    fn unclosed_action(&mut self) -> State {
        let (pos, line) = self.action_start;
        self.error_at(pos, line, "unclosed action (no `}}`)".into())
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input[self.pos..];
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM), false)
    }

    fn at_terminator(&self) -> bool {
        let r = self.peek();
        if is_space(r) {
            return true;
        }
        match r {
            None | Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.input[self.pos..].starts_with(RIGHT_DELIM),
        }
    }

    fn step(&mut self) -> State {
        match self.state {
            State::Text => self.lex_text(),
            State::LeftDelim => self.lex_left_delim(),
            State::Comment => self.lex_comment(),
            State::RightDelim => self.lex_right_delim(),
            State::InsideAction => self.lex_inside_action(),
            State::Space => self.lex_space(),
            State::Identifier => self.lex_identifier(),
            State::Field => self.lex_field_or_variable(ItemType::Field),
            State::Variable => {
                if self.at_terminator() {
                    self.emit(ItemType::Variable);
                    return State::InsideAction;
                }
                self.lex_field_or_variable(ItemType::Variable)
            }
            State::Char => self.lex_quoted(
                '\'',
                ItemType::CharConstant,
                "unterminated character constant",
            ),
            State::Number => self.lex_number(),
            State::Quote => self.lex_quoted('"', ItemType::String, "unterminated quoted string"),
            State::RawQuote => self.lex_raw_quote(),
            State::Done => State::Done,
        }
    }

    fn lex_text(&mut self) -> State {
        if let Some(x) = self.input[self.pos..].find(LEFT_DELIM) {
            self.pos += x;
            let mut trim = 0;
            if has_left_trim_marker(&self.input[self.pos + LEFT_DELIM.len()..]) {
                let text = &self.input[self.start..self.pos];
                trim = text.len() - text.trim_end_matches(SPACE_CHARS).len();
            }
            self.pos -= trim;
            if self.pos > self.start {
                self.line += self.input[self.start..self.pos].matches('\n').count();
                self.emit(ItemType::Text);
            }
            self.pos += trim;
            self.ignore();
            return State::LeftDelim;
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += self.input[self.start..self.pos].matches('\n').count();
            self.emit(ItemType::Text);
            // The EOF item follows on the next call.
            return State::Done;
        }
        State::Done
    }

    fn lex_left_delim(&mut self) -> State {
        self.action_start = (self.pos, self.line);
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(&self.input[self.pos..]);
        let after_marker = if trim { TRIM_MARKER_LEN } else { 0 };
        if self.input[self.pos + after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return State::Comment;
        }
        self.emit(ItemType::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        State::InsideAction
    }

    fn lex_comment(&mut self) -> State {
        self.pos += LEFT_COMMENT.len();
        let Some(i) = self.input[self.pos..].find(RIGHT_COMMENT) else {
            let (pos, line) = self.action_start;
            return self.error_at(pos, line, "unclosed comment".into());
        };
        self.pos += i + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            let (pos, line) = self.action_start;
            return self.error_at(pos, line, "comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            let rest = &self.input[self.pos..];
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
        }
        self.ignore();
        State::Text
    }

    fn lex_right_delim(&mut self) -> State {
        let trim = has_right_trim_marker(&self.input[self.pos..]);
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        self.emit(ItemType::RightDelim);
        if trim {
            let rest = &self.input[self.pos..];
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
            self.ignore();
        }
        State::Text
    }

    fn lex_inside_action(&mut self) -> State {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return State::RightDelim;
            }
            return self.errorf("unclosed left paren".into());
        }
        let r = self.next();
        match r {
            None => return self.unclosed_action(),
            c if is_space(c) => {
                self.backup();
                return State::Space;
            }
            Some('=') => self.emit(ItemType::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".into());
                }
                self.emit(ItemType::Declare);
            }
            Some('|') => self.emit(ItemType::Pipe),
            Some('"') => return State::Quote,
            Some('`') => return State::RawQuote,
            Some('$') => return State::Variable,
            Some('\'') => return State::Char,
            Some('.') => {
                let next = self.input.as_bytes().get(self.pos);
                if next.is_some_and(|b| !b.is_ascii_digit()) {
                    return State::Field;
                }
                self.backup();
                return State::Number;
            }
            Some('+' | '-' | '0'..='9') => {
                self.backup();
                return State::Number;
            }
            c if is_alphanumeric(c) => {
                self.backup();
                return State::Identifier;
            }
            Some('(') => {
                self.emit(ItemType::LeftParen);
                self.paren_depth += 1;
            }
            Some(')') => {
                self.emit(ItemType::RightParen);
                if self.paren_depth == 0 {
                    return self.errorf("unexpected right paren U+0029 ')'".into());
                }
                self.paren_depth -= 1;
            }
            Some(c) if c.is_ascii() && !c.is_ascii_control() => self.emit(ItemType::Char),
            Some(c) => {
                return self.errorf(format!(
                    "unrecognized character in action: {}",
                    super::escape::unicode_name(c)
                ));
            }
        }
        State::InsideAction
    }

    fn lex_space(&mut self) -> State {
        let mut spaces = 0;
        while is_space(self.peek()) {
            self.next();
            spaces += 1;
        }
        let before = self.pos - 1;
        if has_right_trim_marker(&self.input[before..])
            && self.input[before + TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM)
        {
            self.backup();
            if spaces == 1 {
                return State::RightDelim;
            }
        }
        self.emit(ItemType::Space);
        State::InsideAction
    }

    fn lex_identifier(&mut self) -> State {
        loop {
            let r = self.next();
            if is_alphanumeric(r) {
                continue;
            }
            self.backup();
            if !self.at_terminator() {
                let c = self.peek().unwrap_or('\0');
                return self.errorf(format!("bad character {}", super::escape::unicode_name(c)));
            }
            let word = &self.input[self.start..self.pos];
            let typ = match ItemType::keyword(word) {
                Some(k) => k,
                None if word == "true" || word == "false" => ItemType::Bool,
                None => ItemType::Identifier,
            };
            self.emit(typ);
            return State::InsideAction;
        }
    }

    fn lex_field_or_variable(&mut self, typ: ItemType) -> State {
        if self.at_terminator() {
            self.emit(if typ == ItemType::Variable {
                ItemType::Variable
            } else {
                ItemType::Dot
            });
            return State::InsideAction;
        }
        while is_alphanumeric(self.peek()) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            return self.errorf(format!("bad character {}", super::escape::unicode_name(c)));
        }
        self.emit(typ);
        State::InsideAction
    }

    /// A character constant or quoted string, up to its closing `close`; a backslash
    /// escapes the next character (the parser checks escapes).
    fn lex_quoted(&mut self, close: char, typ: ItemType, unterminated: &str) -> State {
        loop {
            match self.next() {
                Some('\\') if !matches!(self.next(), None | Some('\n')) => {}
                Some('\\') | None | Some('\n') => return self.errorf(unterminated.into()),
                Some(c) if c == close => break,
                Some(_) => {}
            }
        }
        self.emit(typ);
        State::InsideAction
    }

    fn lex_number(&mut self) -> State {
        if !self.scan_number() {
            let text = self.input[self.start..self.pos].to_owned();
            return self.errorf(format!(
                "bad number syntax: {}",
                super::escape::quote(&text)
            ));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = self.input[self.start..self.pos].to_owned();
                return self.errorf(format!(
                    "bad number syntax: {}",
                    super::escape::quote(&text)
                ));
            }
            self.emit(ItemType::Complex);
        } else {
            self.emit(ItemType::Number);
        }
        State::InsideAction
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 10 + 1 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 16 + 6 + 1 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if is_alphanumeric(self.peek()) {
            self.next();
            return false;
        }
        true
    }

    fn lex_raw_quote(&mut self) -> State {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::RawString);
        State::InsideAction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(src: &str) -> Vec<(ItemType, String)> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let i = l.next_item();
            let done = matches!(i.typ, ItemType::Eof | ItemType::Error);
            out.push((i.typ, i.val.into_owned()));
            if done {
                return out;
            }
        }
    }

    #[test]
    fn trim_markers_and_actions() {
        assert_eq!(
            items("hello- {{- 3 -}} -world"),
            vec![
                (ItemType::Text, "hello-".into()),
                (ItemType::LeftDelim, "{{".into()),
                (ItemType::Number, "3".into()),
                (ItemType::RightDelim, "}}".into()),
                (ItemType::Text, "-world".into()),
                (ItemType::Eof, String::new()),
            ]
        );
    }

    #[test]
    fn trim_markers_keep_non_ascii_spaces() {
        // U+00A0 and U+3000 are not Go space characters: `{{-` and `-}}` keep them.
        let got = items("a\u{a0} {{- 1 -}} \u{3000}b");
        assert_eq!(got[0], (ItemType::Text, "a\u{a0}".into()));
        assert_eq!(got[4], (ItemType::Text, "\u{3000}b".into()));
    }

    #[test]
    fn errors() {
        assert_eq!(
            items("{{3)}}").last().unwrap().1,
            "unexpected right paren U+0029 ')'"
        );
        assert_eq!(
            items("{{3k}}").last().unwrap().1,
            "bad number syntax: \"3k\""
        );
        assert_eq!(
            items("#{{\u{1}}}").last().unwrap().1,
            "unrecognized character in action: U+0001"
        );
    }

    /// A lexer test: its name, input and expected items.
    type LexCase<I> = (&'static str, &'static str, Vec<I>);

    /// A Go comment item, which Vigo's scanner drops (Go's default when parsing).
    const COMMENT: Option<ItemType> = None;

    /// Go's `lexTests` (parse/lex_test.go), generated from the Go source. Expected comment
    /// items are dropped (Vigo never emits them), and an error item's text is a prefix of
    /// Vigo's (which may add a hint).
    #[rustfmt::skip]
    fn go_lex_tests() -> Vec<LexCase<(Option<ItemType>, &'static str)>> {
        use ItemType::*;
        vec![
            ("empty", "", vec![(Some(Eof), "")]),
            ("spaces", " \t\n", vec![(Some(Text), " \t\n"), (Some(Eof), "")]),
            ("text", "now is the time", vec![(Some(Text), "now is the time"), (Some(Eof), "")]),
            ("text with comment", "hello-{{/* this is a comment */}}-world", vec![(Some(Text), "hello-"), (COMMENT, "/* this is a comment */"), (Some(Text), "-world"), (Some(Eof), "")]),
            ("punctuation", "{{,@% }}", vec![(Some(LeftDelim), "{{"), (Some(Char), ","), (Some(Char), "@"), (Some(Char), "%"), (Some(Space), " "), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("parens", "{{((3))}}", vec![(Some(LeftDelim), "{{"), (Some(LeftParen), "("), (Some(LeftParen), "("), (Some(Number), "3"), (Some(RightParen), ")"), (Some(RightParen), ")"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("empty action", "{{}}", vec![(Some(LeftDelim), "{{"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("for", "{{for}}", vec![(Some(LeftDelim), "{{"), (Some(Identifier), "for"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("block", "{{block \"foo\" .}}", vec![(Some(LeftDelim), "{{"), (Some(Block), "block"), (Some(Space), " "), (Some(String), "\"foo\""), (Some(Space), " "), (Some(Dot), "."), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("quote", "{{\"abc \\n\\t\\\" \"}}", vec![(Some(LeftDelim), "{{"), (Some(String), "\"abc \\n\\t\\\" \""), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("raw quote", "{{`abc\\n\\t\\\" `}}", vec![(Some(LeftDelim), "{{"), (Some(RawString), "`abc\\n\\t\\\" `"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("raw quote with newline", "{{`now is{{\n}}the time`}}", vec![(Some(LeftDelim), "{{"), (Some(RawString), "`now is{{\n}}the time`"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("numbers", "{{1 02 0x14 0X14 -7.2i 1e3 1E3 +1.2e-4 4.2i 1+2i 1_2 0x1.e_fp4 0X1.E_FP4}}", vec![(Some(LeftDelim), "{{"), (Some(Number), "1"), (Some(Space), " "), (Some(Number), "02"), (Some(Space), " "), (Some(Number), "0x14"), (Some(Space), " "), (Some(Number), "0X14"), (Some(Space), " "), (Some(Number), "-7.2i"), (Some(Space), " "), (Some(Number), "1e3"), (Some(Space), " "), (Some(Number), "1E3"), (Some(Space), " "), (Some(Number), "+1.2e-4"), (Some(Space), " "), (Some(Number), "4.2i"), (Some(Space), " "), (Some(Complex), "1+2i"), (Some(Space), " "), (Some(Number), "1_2"), (Some(Space), " "), (Some(Number), "0x1.e_fp4"), (Some(Space), " "), (Some(Number), "0X1.E_FP4"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("characters", "{{'a' '\\n' '\\'' '\\\\' '\\u00FF' '\\xFF' '本'}}", vec![(Some(LeftDelim), "{{"), (Some(CharConstant), "'a'"), (Some(Space), " "), (Some(CharConstant), "'\\n'"), (Some(Space), " "), (Some(CharConstant), "'\\''"), (Some(Space), " "), (Some(CharConstant), "'\\\\'"), (Some(Space), " "), (Some(CharConstant), "'\\u00FF'"), (Some(Space), " "), (Some(CharConstant), "'\\xFF'"), (Some(Space), " "), (Some(CharConstant), "'本'"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("bools", "{{true false}}", vec![(Some(LeftDelim), "{{"), (Some(Bool), "true"), (Some(Space), " "), (Some(Bool), "false"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("dot", "{{.}}", vec![(Some(LeftDelim), "{{"), (Some(Dot), "."), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("nil", "{{nil}}", vec![(Some(LeftDelim), "{{"), (Some(Nil), "nil"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("dots", "{{.x . .2 .x.y.z}}", vec![(Some(LeftDelim), "{{"), (Some(Field), ".x"), (Some(Space), " "), (Some(Dot), "."), (Some(Space), " "), (Some(Number), ".2"), (Some(Space), " "), (Some(Field), ".x"), (Some(Field), ".y"), (Some(Field), ".z"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("keywords", "{{range if else end with}}", vec![(Some(LeftDelim), "{{"), (Some(Range), "range"), (Some(Space), " "), (Some(If), "if"), (Some(Space), " "), (Some(Else), "else"), (Some(Space), " "), (Some(End), "end"), (Some(Space), " "), (Some(With), "with"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("variables", "{{$c := printf $ $hello $23 $ $var.Field .Method}}", vec![(Some(LeftDelim), "{{"), (Some(Variable), "$c"), (Some(Space), " "), (Some(Declare), ":="), (Some(Space), " "), (Some(Identifier), "printf"), (Some(Space), " "), (Some(Variable), "$"), (Some(Space), " "), (Some(Variable), "$hello"), (Some(Space), " "), (Some(Variable), "$23"), (Some(Space), " "), (Some(Variable), "$"), (Some(Space), " "), (Some(Variable), "$var"), (Some(Field), ".Field"), (Some(Space), " "), (Some(Field), ".Method"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("variable invocation", "{{$x 23}}", vec![(Some(LeftDelim), "{{"), (Some(Variable), "$x"), (Some(Space), " "), (Some(Number), "23"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("pipeline", "intro {{echo hi 1.2 |noargs|args 1 \"hi\"}} outro", vec![(Some(Text), "intro "), (Some(LeftDelim), "{{"), (Some(Identifier), "echo"), (Some(Space), " "), (Some(Identifier), "hi"), (Some(Space), " "), (Some(Number), "1.2"), (Some(Space), " "), (Some(Pipe), "|"), (Some(Identifier), "noargs"), (Some(Pipe), "|"), (Some(Identifier), "args"), (Some(Space), " "), (Some(Number), "1"), (Some(Space), " "), (Some(String), "\"hi\""), (Some(RightDelim), "}}"), (Some(Text), " outro"), (Some(Eof), "")]),
            ("declaration", "{{$v := 3}}", vec![(Some(LeftDelim), "{{"), (Some(Variable), "$v"), (Some(Space), " "), (Some(Declare), ":="), (Some(Space), " "), (Some(Number), "3"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("2 declarations", "{{$v , $w := 3}}", vec![(Some(LeftDelim), "{{"), (Some(Variable), "$v"), (Some(Space), " "), (Some(Char), ","), (Some(Space), " "), (Some(Variable), "$w"), (Some(Space), " "), (Some(Declare), ":="), (Some(Space), " "), (Some(Number), "3"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("field of parenthesized expression", "{{(.X).Y}}", vec![(Some(LeftDelim), "{{"), (Some(LeftParen), "("), (Some(Field), ".X"), (Some(RightParen), ")"), (Some(Field), ".Y"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("trimming spaces before and after", "hello- {{- 3 -}} -world", vec![(Some(Text), "hello-"), (Some(LeftDelim), "{{"), (Some(Number), "3"), (Some(RightDelim), "}}"), (Some(Text), "-world"), (Some(Eof), "")]),
            ("trimming spaces before and after comment", "hello- {{- /* hello */ -}} -world", vec![(Some(Text), "hello-"), (COMMENT, "/* hello */"), (Some(Text), "-world"), (Some(Eof), "")]),
            ("badchar", "#{{\u{1}}}", vec![(Some(Text), "#"), (Some(LeftDelim), "{{"), (Some(Error), "unrecognized character in action: U+0001")]),
            ("unclosed action", "{{", vec![(Some(LeftDelim), "{{"), (Some(Error), "unclosed action")]),
            ("EOF in action", "{{range", vec![(Some(LeftDelim), "{{"), (Some(Range), "range"), (Some(Error), "unclosed action")]),
            ("unclosed quote", "{{\"\n\"}}", vec![(Some(LeftDelim), "{{"), (Some(Error), "unterminated quoted string")]),
            ("unclosed raw quote", "{{`xx}}", vec![(Some(LeftDelim), "{{"), (Some(Error), "unterminated raw quoted string")]),
            ("unclosed char constant", "{{'\n}}", vec![(Some(LeftDelim), "{{"), (Some(Error), "unterminated character constant")]),
            ("bad number", "{{3k}}", vec![(Some(LeftDelim), "{{"), (Some(Error), "bad number syntax: \"3k\"")]),
            ("unclosed paren", "{{(3}}", vec![(Some(LeftDelim), "{{"), (Some(LeftParen), "("), (Some(Number), "3"), (Some(Error), "unclosed left paren")]),
            ("extra right paren", "{{3)}}", vec![(Some(LeftDelim), "{{"), (Some(Number), "3"), (Some(RightParen), ")"), (Some(Error), "unexpected right paren U+0029 ')'")]),
            ("long pipeline deadlock", "{{|||||}}", vec![(Some(LeftDelim), "{{"), (Some(Pipe), "|"), (Some(Pipe), "|"), (Some(Pipe), "|"), (Some(Pipe), "|"), (Some(Pipe), "|"), (Some(RightDelim), "}}"), (Some(Eof), "")]),
            ("text with bad comment", "hello-{{/*/}}-world", vec![(Some(Text), "hello-"), (Some(Error), "unclosed comment")]),
            ("text with comment close separated from delim", "hello-{{/* */ }}-world", vec![(Some(Text), "hello-"), (Some(Error), "comment ends before closing delimiter")]),
            ("unmatched right delimiter", "hello-{.}}-world", vec![(Some(Text), "hello-{.}}-world"), (Some(Eof), "")]),
        ]
    }

    /// Go's `lexPosTests`: items with their byte offsets and lines.
    #[rustfmt::skip]
    fn go_lex_pos_tests() -> Vec<LexCase<(ItemType, &'static str, usize, usize)>> {
        use ItemType::*;
        vec![
            ("empty", "", vec![(Eof, "", 0, 1)]),
            ("punctuation", "{{,@%#}}", vec![(LeftDelim, "{{", 0, 1), (Char, ",", 2, 1), (Char, "@", 3, 1), (Char, "%", 4, 1), (Char, "#", 5, 1), (RightDelim, "}}", 6, 1), (Eof, "", 8, 1)]),
            ("sample", "0123{{hello}}xyz", vec![(Text, "0123", 0, 1), (LeftDelim, "{{", 4, 1), (Identifier, "hello", 6, 1), (RightDelim, "}}", 11, 1), (Text, "xyz", 13, 1), (Eof, "", 16, 1)]),
            ("trimafter", "{{x -}}\n{{y}}", vec![(LeftDelim, "{{", 0, 1), (Identifier, "x", 2, 1), (RightDelim, "}}", 5, 1), (LeftDelim, "{{", 8, 2), (Identifier, "y", 10, 2), (RightDelim, "}}", 11, 2), (Eof, "", 13, 2)]),
            ("trimbefore", "{{x}}\n{{- y}}", vec![(LeftDelim, "{{", 0, 1), (Identifier, "x", 2, 1), (RightDelim, "}}", 3, 1), (LeftDelim, "{{", 6, 2), (Identifier, "y", 10, 2), (RightDelim, "}}", 11, 2), (Eof, "", 13, 2)]),
        ]
    }

    #[test]
    fn go_lex_tables_pass() {
        let mut failures = Vec::new();
        for (name, input, want) in go_lex_tests() {
            let want: Vec<(ItemType, &str)> = want
                .into_iter()
                .filter_map(|(t, v)| t.map(|t| (t, v)))
                .collect();
            let got = items(input);
            let same = got.len() == want.len()
                && got.iter().zip(&want).all(|((gt, gv), (wt, wv))| {
                    gt == wt
                        && if *gt == ItemType::Error {
                            gv.starts_with(wv)
                        } else {
                            gv == wv
                        }
                });
            if !same {
                failures.push(format!("{name}: got {got:?}, want {want:?}"));
            }
        }
        for (name, input, want) in go_lex_pos_tests() {
            let mut l = Lexer::new(input);
            for (t, v, pos, line) in want {
                let i = l.next_item();
                if (i.typ, i.val.as_ref(), i.pos, i.line) != (t, v, pos, line) {
                    failures.push(format!("{name}: got {i:?}, want {:?}", (t, v, pos, line)));
                    break;
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
