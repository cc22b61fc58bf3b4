//! `when:` conditions: grammar, every builtin, and clear errors.

use vigo_lang::when::{HostProbe, When, parse};
use vigo_traits::Traits;
use vigo_traits::collectors::{memory::Memory, os::Os, ports::Ports, time::Time};

/// Answers from a temporary directory and fixed lists (the agent's real probe reads the
/// live system).
struct Probe {
    root: tempfile::TempDir,
    processes: Vec<&'static str>,
    container: bool,
}

impl HostProbe for Probe {
    fn file_exists(&self, path: &str) -> bool {
        self.root
            .path()
            .join(path.trim_start_matches('/'))
            .is_file()
    }
    fn dir_exists(&self, path: &str) -> bool {
        self.root.path().join(path.trim_start_matches('/')).is_dir()
    }
    fn process_running(&self, name: &str) -> bool {
        self.processes.contains(&name)
    }
    fn command_succeeds(&self, cmd: &str) -> bool {
        cmd == "true"
    }
    fn is_container(&self) -> bool {
        self.container
    }
}

fn probe() -> Probe {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("opt/app")).unwrap();
    std::fs::write(root.path().join("etc-flag"), "").unwrap();
    Probe {
        root,
        processes: vec!["nginx"],
        container: false,
    }
}

fn traits() -> Traits {
    Traits {
        os: Some(Os {
            family: "rhel".into(),
            distro: "rocky".into(),
            version: "9.3".into(),
            arch: "amd64".into(),
            arch_raw: "x86_64".into(),
            ..Os::default()
        }),
        time: Some(Time {
            hour: 3,
            minute: 30,
            weekday: "sunday".into(),
            day: 24,
            ..Time::default()
        }),
        ports: Some(Ports {
            listening: vec![22, 443],
        }),
        memory: Some(Memory {
            available_bytes: 1_073_741_824,
            ..Memory::default()
        }),
        ..Traits::default()
    }
}

fn eval(expr: &str) -> bool {
    let When::Expr(e) = parse(expr).unwrap_or_else(|err| panic!("{expr}: {err}")) else {
        panic!("{expr} is not an expression")
    };
    e.eval(&traits(), &probe())
        .unwrap_or_else(|err| panic!("{expr}: {err}"))
}

fn parse_err(expr: &str) -> String {
    parse(expr).expect_err("must fail").to_string()
}

#[test]
fn builtins() {
    assert!(eval("os_family('redhat') && !version_ge('10')"));
    assert!(eval(
        "os_family('RHEL') && distro('Rocky') && arch('amd64') && arch('x86_64')"
    ));
    assert!(eval(
        "version_ge('9') && version_ge('9.3') && !version_ge('9.10')"
    ));
    assert!(eval(
        "file_exists('/etc-flag') && dir_exists('/opt/app') && !file_exists('/opt/app')"
    ));
    assert!(eval(
        "process_running('nginx') && !process_running('apache2')"
    ));
    assert!(eval(
        "command_succeeds('true') && !command_succeeds('false')"
    ));
    assert!(eval(
        "hour_range('2', '5') && day_of_week('sunday') && day_of_week('sun') && day_of_month('24')"
    ));
    assert!(eval("hour_range('22', '4')"), "wraps past midnight");
    assert!(eval(
        "minute_range('0', '31') && local_time('03:00', '04:00') && !local_time('04:00', '05:00')"
    ));
    assert!(eval("port_listening('443') && !port_listening(80)"));
    assert!(eval("!is_container && has_enough_ram"));
}

#[test]
fn precedence_and_grouping() {
    assert!(
        eval("file_exists('/nope') || dir_exists('/opt/app') && os_family('rhel')"),
        "&& binds tighter than ||"
    );
    assert!(!eval(
        "(file_exists('/nope') || dir_exists('/opt/app')) && os_family('debian')"
    ));
    assert!(eval("!!os_family('rhel')"));
}

#[test]
fn changed_is_special() {
    assert_eq!(parse("changed").unwrap(), When::Changed);
    assert_eq!(parse("  changed ").unwrap(), When::Changed);
}

#[test]
fn errors_say_where_and_what() {
    assert_eq!(
        parse_err("os_famly('debian')"),
        "column 1: unknown builtin `os_famly` (did you mean `os_family`?)"
    );
    assert_eq!(
        parse_err("os_family('debian') &&"),
        "column 23: unexpected end; expected a builtin, `!` or `(`"
    );
    assert_eq!(
        parse_err("hour_range('1')"),
        "column 16: `hour_range` takes 2 arguments, got 1"
    );
    assert_eq!(
        parse_err("is_container()"),
        "column 13: `is_container` takes no parentheses"
    );
    assert_eq!(
        parse_err("arch"),
        "column 5: `arch` needs 1 argument in parentheses"
    );
    assert_eq!(parse_err("(os_family('x')"), "column 16: expected `)`");
    assert_eq!(
        parse_err("os_family('x) "),
        "column 11: unterminated string"
    );
    assert_eq!(
        parse_err("os_family('a') & arch('b')"),
        "column 16: unexpected `&`; expected a builtin, `!`, `(`, `&&` or `||`"
    );
    assert_eq!(parse_err(""), "column 1: empty condition");
    let When::Expr(e) = parse("os_family('debian')").unwrap() else {
        panic!()
    };
    assert_eq!(
        e.eval(&Traits::default(), &probe())
            .unwrap_err()
            .to_string(),
        "column 0: trait os.family is not available"
    );
}

proptest::proptest! {
    #[test]
    fn never_panics(s in ".{0,120}") {
        if let Ok(When::Expr(e)) = parse(&s) {
            let _ = e.eval(&traits(), &probe());
        }
    }
}
