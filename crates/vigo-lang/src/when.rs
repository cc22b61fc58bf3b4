//! `when:` conditions: `os_family('debian') && !is_container`, or the special `changed`.
//!
//! Grammar: `expr := or; or := and ('||' and)*; and := unary ('&&' unary)*;
//! unary := '!' unary | '(' expr ')' | builtin; builtin := NAME | NAME '(' [arg (',' arg)*] ')'`,
//! arguments being quoted strings (`'…'` or `"…"`) or numbers. Every builtin's name and
//! arity is checked at parse time, so a stack with a bad condition fails at publish.
//!
//! Evaluation reads the typed trait snapshot ([`Traits`]: `os`, `time`, `ports`,
//! `memory`) and asks a [`HostProbe`] for live local state (files, processes, commands,
//! container): this crate never touches the host itself; the agent supplies the probe.
//! [`BUILTINS`] says which collector each builtin reads, so the agent collects only those.

use vigo_traits::Traits;

/// A parse or evaluation error, with the 1-based column where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {col}: {message}")]
pub struct WhenError {
    /// 1-based column in the expression (0 for evaluation errors).
    pub col: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Live local state the builtins need.
pub trait HostProbe {
    /// A regular file exists at `path`.
    fn file_exists(&self, path: &str) -> bool;
    /// A directory exists at `path`.
    fn dir_exists(&self, path: &str) -> bool;
    /// A process with this name (comm or executable base name) is running.
    fn process_running(&self, name: &str) -> bool;
    /// `sh -c cmd` exits 0 (within a short time limit).
    fn command_succeeds(&self, cmd: &str) -> bool;
    /// The agent runs inside a container.
    fn is_container(&self) -> bool;
}

/// A parsed `when:` value.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// `when: "changed"`: a notify target, run only when notified.
    Changed,
    /// A condition.
    Expr(Expr),
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a || b`
    Or(Box<Expr>, Box<Expr>),
    /// `a && b`
    And(Box<Expr>, Box<Expr>),
    /// `!a`
    Not(Box<Expr>),
    /// A builtin and its arguments.
    Call(String, Vec<String>),
}

/// A `when:` builtin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// Its name.
    pub name: &'static str,
    /// How many arguments it takes (`None` = a bare identifier, no parentheses).
    pub arity: Option<usize>,
    /// The trait collector it reads (`None`: it asks the host probe).
    pub reads: Option<&'static str>,
}

const fn builtin(name: &'static str, arity: Option<usize>, reads: Option<&'static str>) -> Builtin {
    Builtin { name, arity, reads }
}

/// Every builtin.
pub const BUILTINS: &[Builtin] = &[
    builtin("file_exists", Some(1), None),
    builtin("dir_exists", Some(1), None),
    builtin("process_running", Some(1), None),
    builtin("command_succeeds", Some(1), None),
    builtin("hour_range", Some(2), Some("time")),
    builtin("minute_range", Some(2), Some("time")),
    builtin("local_time", Some(2), Some("time")),
    builtin("day_of_week", Some(1), Some("time")),
    builtin("day_of_month", Some(1), Some("time")),
    builtin("os_family", Some(1), Some("os")),
    builtin("distro", Some(1), Some("os")),
    builtin("arch", Some(1), Some("os")),
    builtin("version_ge", Some(1), Some("os")),
    builtin("port_listening", Some(1), Some("ports")),
    builtin("is_container", None, None),
    builtin("has_enough_ram", None, Some("memory")),
];

/// `has_enough_ram` holds when at least this much memory is available.
pub const ENOUGH_RAM_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    And,
    Or,
    Not,
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, WhenError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |col: usize, message: String| WhenError { col, message };
    while i < chars.len() {
        let col = i + 1;
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push((Tok::And, col));
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push((Tok::Or, col));
                i += 2;
            }
            '!' => {
                out.push((Tok::Not, col));
                i += 1;
            }
            '(' => {
                out.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, col));
                i += 1;
            }
            q @ ('\'' | '"') => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|c| *c == q)
                    .ok_or_else(|| err(col, "unterminated string".into()))?;
                out.push((Tok::Str(chars[start..start + end].iter().collect()), col));
                i = start + end + 1;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '-')
                {
                    i += 1;
                }
                out.push((Tok::Str(chars[start..i].iter().collect()), col));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), col));
            }
            other => {
                return Err(err(
                    col,
                    format!("unexpected `{other}`; expected a builtin, `!`, `(`, `&&` or `||`"),
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end_col: usize,
    depth: usize,
}

impl Parser {
    fn col(&self) -> usize {
        self.toks.get(self.at).map_or(self.end_col, |t| t.1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, WhenError> {
        Err(WhenError {
            col: self.col(),
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }

    fn or(&mut self) -> Result<Expr, WhenError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, WhenError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, WhenError> {
        self.depth += 1;
        if self.depth > 100 {
            return self.err("expression nested too deeply");
        }
        let r = match self.peek().cloned() {
            Some(Tok::Not) => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.at += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err("expected `)`");
                }
                self.at += 1;
                Ok(e)
            }
            Some(Tok::Ident(name)) => self.call(&name),
            Some(Tok::Str(s)) => self.err(format!(
                "unexpected value '{s}'; expected a builtin such as os_family('debian')"
            )),
            Some(_) => self.err("expected a builtin, `!` or `(`"),
            None => self.err("unexpected end; expected a builtin, `!` or `(`"),
        };
        self.depth -= 1;
        r
    }

    fn call(&mut self, name: &str) -> Result<Expr, WhenError> {
        let Some(Builtin { arity, .. }) = BUILTINS.iter().find(|b| b.name == name) else {
            let hint = vigo_core::suggest::did_you_mean(name, BUILTINS.iter().map(|b| b.name))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return self.err(format!("unknown builtin `{name}`{hint}"));
        };
        self.at += 1;
        let Some(n) = arity else {
            if self.peek() == Some(&Tok::LParen) {
                return self.err(format!("`{name}` takes no parentheses"));
            }
            return Ok(Expr::Call(name.to_owned(), Vec::new()));
        };
        if self.peek() != Some(&Tok::LParen) {
            return self.err(format!(
                "`{name}` needs {n} argument{} in parentheses",
                if *n == 1 { "" } else { "s" }
            ));
        }
        self.at += 1;
        let mut args = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::RParen) if args.is_empty() => {
                    self.at += 1;
                    break;
                }
                Some(Tok::Str(s)) => {
                    self.at += 1;
                    args.push(s);
                    match self.peek() {
                        Some(Tok::Comma) => self.at += 1,
                        Some(Tok::RParen) => {
                            self.at += 1;
                            break;
                        }
                        _ => return self.err("expected `,` or `)`"),
                    }
                }
                _ => return self.err("expected a quoted argument like 'debian'"),
            }
        }
        if args.len() != *n {
            return Err(WhenError {
                col: self.col(),
                message: format!(
                    "`{name}` takes {n} argument{}, got {}",
                    if *n == 1 { "" } else { "s" },
                    args.len()
                ),
            });
        }
        Ok(Expr::Call(name.to_owned(), args))
    }
}

/// Parses a `when:` value.
pub fn parse(text: &str) -> Result<When, WhenError> {
    let t = text.trim();
    if t == "changed" {
        return Ok(When::Changed);
    }
    if t.is_empty() {
        return Err(WhenError {
            col: 1,
            message: "empty condition".into(),
        });
    }
    let mut p = Parser {
        toks: lex(t)?,
        at: 0,
        end_col: t.chars().count() + 1,
        depth: 0,
    };
    let e = p.or()?;
    if p.at < p.toks.len() {
        return p.err("expected `&&`, `||` or the end");
    }
    Ok(When::Expr(e))
}

/// A collector's value, or the error naming the field a builtin wanted from it.
fn need<'a, T>(collected: &'a Option<T>, field: &str) -> Result<&'a T, WhenError> {
    collected.as_ref().ok_or_else(|| WhenError {
        col: 0,
        message: format!("trait {field} is not available"),
    })
}

fn number(s: &str) -> Result<u64, WhenError> {
    s.trim().parse().map_err(|_| WhenError {
        col: 0,
        message: format!("'{s}' is not a number"),
    })
}

/// `[start, end)`, wrapping past the end of the cycle when `start > end`.
fn in_range(v: u64, start: u64, end: u64) -> bool {
    if start <= end {
        v >= start && v < end
    } else {
        v >= start || v < end
    }
}

fn minutes(hhmm: &str) -> Result<u64, WhenError> {
    let (h, m) = hhmm.split_once(':').ok_or_else(|| WhenError {
        col: 0,
        message: format!("'{hhmm}' is not HH:MM"),
    })?;
    Ok(number(h)? * 60 + number(m)?)
}

/// `a >= b` comparing dotted versions numerically (`12.1` ≥ `9`).
pub fn version_ge(a: &str, b: &str) -> bool {
    let parts = |s: &str| {
        s.split(['.', '-'])
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (x, y) = (parts(a), parts(b));
    for i in 0..x.len().max(y.len()) {
        let (p, q) = (
            x.get(i).copied().unwrap_or(0),
            y.get(i).copied().unwrap_or(0),
        );
        if p != q {
            return p > q;
        }
    }
    true
}

impl Expr {
    /// Evaluates against a trait snapshot and the host, with no secrets (a secret marker in
    /// an argument is an error).
    pub fn eval(&self, traits: &Traits, probe: &dyn HostProbe) -> Result<bool, WhenError> {
        self.eval_with_secrets(traits, probe, &|_| None)
    }

    /// Evaluates with secret values: a marker in an argument (`file_exists('secret:p')`) is
    /// replaced by `secret(path)` after parsing, so a secret is an argument's value and
    /// never part of the expression.
    pub fn eval_with_secrets(
        &self,
        traits: &Traits,
        probe: &dyn HostProbe,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool, WhenError> {
        let eval = |e: &Expr| e.eval_with_secrets(traits, probe, secret);
        match self {
            Expr::Or(a, b) => Ok(eval(a)? || eval(b)?),
            Expr::And(a, b) => Ok(eval(a)? && eval(b)?),
            Expr::Not(a) => Ok(!eval(a)?),
            Expr::Call(name, raw_args) => {
                let args = raw_args
                    .iter()
                    .map(|a| {
                        vigo_core::secret::substitute(a, secret)
                            .map(|s| s.text)
                            .map_err(|e| WhenError {
                                col: 0,
                                message: e.to_string(),
                            })
                    })
                    .collect::<Result<Vec<String>, WhenError>>()?;
                let arg = |i: usize| args.get(i).map_or("", String::as_str);
                Ok(match name.as_str() {
                    "file_exists" => probe.file_exists(arg(0)),
                    "dir_exists" => probe.dir_exists(arg(0)),
                    "process_running" => probe.process_running(arg(0)),
                    "command_succeeds" => probe.command_succeeds(arg(0)),
                    "is_container" => probe.is_container(),
                    "hour_range" => in_range(
                        u64::from(need(&traits.time, "time.hour")?.hour),
                        number(arg(0))?,
                        number(arg(1))?,
                    ),
                    "minute_range" => in_range(
                        u64::from(need(&traits.time, "time.minute")?.minute),
                        number(arg(0))?,
                        number(arg(1))?,
                    ),
                    "local_time" => {
                        let t = need(&traits.time, "time.hour")?;
                        let now = u64::from(t.hour) * 60 + u64::from(t.minute);
                        in_range(now, minutes(arg(0))?, minutes(arg(1))?)
                    }
                    "day_of_week" => {
                        let today = need(&traits.time, "time.weekday")?.weekday.as_str();
                        let want = arg(0).to_lowercase();
                        today == want || (want.len() >= 3 && today.starts_with(&want))
                    }
                    "day_of_month" => {
                        u64::from(need(&traits.time, "time.day")?.day) == number(arg(0))?
                    }
                    "os_family" => {
                        let fam = need(&traits.os, "os.family")?.family.to_lowercase();
                        let want = arg(0).to_lowercase();
                        fam == want
                            || (fam == "rhel" && matches!(want.as_str(), "redhat" | "red hat"))
                    }
                    "distro" => need(&traits.os, "os.distro")?
                        .distro
                        .eq_ignore_ascii_case(arg(0)),
                    "arch" => {
                        let os = need(&traits.os, "os.arch")?;
                        os.arch == arg(0) || os.arch_raw == arg(0)
                    }
                    "version_ge" => version_ge(&need(&traits.os, "os.version")?.version, arg(0)),
                    "port_listening" => {
                        let port = number(arg(0))?;
                        traits
                            .ports
                            .as_ref()
                            .is_some_and(|p| p.listening.iter().any(|x| u64::from(*x) == port))
                    }
                    "has_enough_ram" => {
                        need(&traits.memory, "memory.available_bytes")?.available_bytes
                            >= ENOUGH_RAM_BYTES
                    }
                    other => {
                        return Err(WhenError {
                            col: 0,
                            message: format!("unknown builtin `{other}`"),
                        });
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use vigo_traits::collectors::{memory::Memory, os::Os, ports::Ports, time::Time};

    use super::*;

    struct NoHost;
    impl HostProbe for NoHost {
        fn file_exists(&self, _: &str) -> bool {
            false
        }
        fn dir_exists(&self, _: &str) -> bool {
            false
        }
        fn process_running(&self, _: &str) -> bool {
            false
        }
        fn command_succeeds(&self, _: &str) -> bool {
            false
        }
        fn is_container(&self) -> bool {
            false
        }
    }

    /// Traits with only the collector `name`.
    fn only(name: &str) -> Traits {
        let mut t = Traits::default();
        match name {
            "os" => t.os = Some(Os::default()),
            "time" => t.time = Some(Time::default()),
            "ports" => t.ports = Some(Ports::default()),
            "memory" => t.memory = Some(Memory::default()),
            other => panic!("a builtin reads `{other}`: add it here"),
        }
        t
    }

    /// What each builtin says it reads is what it reads: with only that collector it
    /// evaluates, with none it says the trait is missing (or, for `port_listening`, is
    /// false), and every collector named exists.
    #[test]
    fn each_builtin_reads_the_collector_it_declares() {
        for b in BUILTINS {
            let args: Vec<String> = (0..b.arity.unwrap_or(0)).map(|_| "1".to_owned()).collect();
            let call = Expr::Call(b.name.to_owned(), args);
            let Some(reads) = b.reads else {
                assert!(call.eval(&Traits::default(), &NoHost).is_ok(), "{}", b.name);
                continue;
            };
            assert!(
                vigo_traits::find(reads).is_some(),
                "{} reads `{reads}`",
                b.name
            );
            let call = match b.name {
                "local_time" => Expr::Call(b.name.into(), vec!["01:00".into(), "02:00".into()]),
                _ => call,
            };
            assert!(call.eval(&only(reads), &NoHost).is_ok(), "{}", b.name);
            match call.eval(&Traits::default(), &NoHost) {
                Err(e) => assert!(e.message.contains("is not available"), "{}: {e}", b.name),
                Ok(v) => assert!(!v && b.name == "port_listening", "{}", b.name),
            }
        }
    }
}
