//! The table, precedence, config errors and the docs table.

use std::path::Path;

use clap::Parser;

use super::*;

/// The settings' flags alone, as the agent's command line flattens them.
#[derive(Debug, Parser)]
#[command(name = "vigo")]
struct Cli {
    #[command(flatten)]
    settings: SettingFlags,
}

const CONFIG: &str = "/etc/vigo-envoy/config";

fn resolve(args: &[&str], file: &str) -> Settings {
    let cli = Cli::try_parse_from(args).unwrap();
    let file = ConfigFile::parse(Path::new(CONFIG), file).unwrap();
    Settings::resolve(
        &cli.settings,
        &file,
        Path::new(DATA_DIR),
        Path::new("/var/lib/vigo/state"),
    )
}

fn shown(s: &Settings, key: &str) -> (String, Origin) {
    s.shown()
        .into_iter()
        .find(|s| s.key == key)
        .map(|s| (s.value, s.origin))
        .unwrap()
}

fn config_error(text: &str) -> String {
    let e = ConfigFile::parse(Path::new(CONFIG), text).unwrap_err();
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        out.push_str(&format!("\n  caused by: {c}"));
        cause = c.source();
    }
    out
}

#[test]
fn defaults_when_nothing_is_set() {
    let s = resolve(&["vigo"], "");
    assert_eq!(s.server, "localhost:1530");
    assert_eq!(s.api_addr, "https://localhost:8443");
    assert_eq!(s.log_level, LogLevel::Info);
    assert_eq!(s.snapshot_retention, 5);
    assert_eq!(s.trait_refresh_cycles, 10);
    assert_eq!(s.result_cache_cycles, 5);
    assert_eq!(s.ca_file, Path::new("/etc/vigo-envoy/ca.pem"));
    assert_eq!(s.state_dir, Path::new("/var/lib/vigo/state"));
    assert!(s.shown().iter().all(|s| s.origin == Origin::Default));
}

/// Every setting of the table: its flag and its config key both reach the effective
/// value, the flag beating the file.
#[test]
fn every_setting_is_reached_by_its_flag_and_its_config_key() {
    let samples = table::samples();
    assert_eq!(samples.len(), table().len());
    for (key, has_flag, (input, expected)) in samples {
        let from_file = resolve(&["vigo"], &format!("{key}: {input}\n"));
        assert_eq!(
            shown(&from_file, key),
            (expected.to_owned(), Origin::File),
            "config key {key}"
        );
        let flag = format!("--{}", key.replace('_', "-"));
        let parsed = Cli::try_parse_from(["vigo", flag.as_str(), input]);
        if !has_flag {
            assert!(parsed.is_err(), "{key} is config-only");
            continue;
        }
        // The flag wins over a file that holds the default.
        let default = table().into_iter().find(|s| s.key == key).unwrap().default;
        let file = default.map(|d| format!("{key}: {d}\n")).unwrap_or_default();
        let from_flag = resolve(&["vigo", flag.as_str(), input], &file);
        assert_eq!(
            shown(&from_flag, key),
            (expected.to_owned(), Origin::Flag),
            "flag {flag}"
        );
    }
}

/// No declared-and-ignored setting: every key of the table is read outside the settings
/// module (as `.key` on the effective settings).
#[test]
fn every_setting_is_read_somewhere() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut text = String::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.starts_with(src.join("settings")) {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    for s in table() {
        let read = format!(".{}", s.key);
        assert!(
            text.match_indices(&read).any(|(i, _)| {
                !text[i + read.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            }),
            "setting `{}` is declared but never read",
            s.key
        );
    }
}

#[test]
fn log_level_from_the_file_and_from_the_flag() {
    assert_eq!(
        resolve(&["vigo"], "log_level: warn\n").log_level,
        LogLevel::Warn
    );
    assert_eq!(
        resolve(&["vigo", "--log-level", "trace"], "log_level: warn\n").log_level,
        LogLevel::Trace
    );
    assert!(Cli::try_parse_from(["vigo", "--log-level", "loud"]).is_err());
}

#[test]
fn a_key_without_a_value_is_unset() {
    let s = resolve(&["vigo"], "bolt:\nfallback_servers:\nsnapshot_retention:\n");
    assert_eq!(s.bolt, None);
    assert!(s.fallback_servers.is_empty());
    assert_eq!(s.snapshot_retention, 5);
    assert_eq!(s.origins.snapshot_retention, Origin::Default);
}

#[test]
fn bolt_is_dialled_instead_of_server() {
    let s = resolve(&["vigo"], "server: a:1530\nbolt: b:1530\n");
    assert_eq!(s.primary_server(), "b:1530");
}

#[test]
fn config_errors_name_the_file_the_line_and_the_key() {
    insta::assert_snapshot!(
        config_error("server: vigo:1530\nsnapshot_retension: 3\n"),
        @"/etc/vigo-envoy/config:2:1: unknown key `snapshot_retension` (did you mean `snapshot_retention`?); the keys are `server`, `ca_file`, `cert_file`, `key_file`, `log_level`, `api_addr`, `executors_dir`, `snapshot_dir`, `snapshot_retention`, `trait_refresh_cycles`, `result_cache_cycles`, `envoy_id`, `fallback_servers`, `bolt`"
    );
    insta::assert_snapshot!(config_error("snapshot_retention: many\n"), @r#"
    /etc/vigo-envoy/config:1:21: key `snapshot_retention`: expected a whole number from 0 to 4294967295
      caused by: invalid type: string "many", expected u32
    "#);
    insta::assert_snapshot!(config_error("log_level: loud\n"), @r"
    /etc/vigo-envoy/config:1:12: key `log_level`: expected one of trace, debug, info, warn, error
      caused by: unknown variant `loud`, expected one of `trace`, `debug`, `info`, `warn`, `error`
    ");
    insta::assert_snapshot!(config_error("- server\n"), @"/etc/vigo-envoy/config:1:1: expected a mapping of settings (`key: value` lines), found a list");
    insta::assert_snapshot!(
        config_error("server: a\nserver: b\n"),
        @"/etc/vigo-envoy/config:2:1: duplicate mapping key `server` is not allowed here"
    );
}

#[test]
fn written_config_reads_back() {
    let cfg = ConfigFile {
        server: Some("vigo:1530".into()),
        log_level: Some(LogLevel::Debug),
        snapshot_retention: Some(3),
        envoy_id: Some("id".into()),
        fallback_servers: vec!["b:1530".into()],
        ..Default::default()
    };
    let text = cfg.to_yaml().unwrap();
    insta::assert_snapshot!(text, @r"
    server: vigo:1530
    log_level: debug
    snapshot_retention: 3
    envoy_id: id
    fallback_servers:
    - b:1530
    ");
    let back = ConfigFile::parse(Path::new("/c"), &text).unwrap();
    assert_eq!(back, cfg);
}

/// The flags' `--help` lines come from the table (doc line and default).
#[test]
fn help_lines_come_from_the_table() {
    use clap::CommandFactory;
    let cmd = Cli::command();
    for s in table() {
        let Some(flag) = s.flag() else { continue };
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(&flag[2..]))
            .unwrap_or_else(|| panic!("{flag} is not a flag"));
        let help = arg.get_help().unwrap().to_string();
        assert!(help.starts_with(s.doc), "{flag}: {help}");
        assert_eq!(
            help.contains("[default: "),
            s.default_in_help,
            "{flag}: {help}"
        );
    }
}

const BEGIN: &str =
    "<!-- settings-table:begin (generated from crates/vigo-agent/src/settings/table.rs) -->\n";
const END: &str = "<!-- settings-table:end -->";

/// docs/agent.md's settings table is the one the table generates
/// (`VIGO_REGENERATE_DOCS=1 cargo nextest run -p vigo-agent docs_are_current` rewrites it).
#[test]
fn docs_are_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agent.md");
    vigo_core::docgen::check(&path, "vigo-agent", |text| {
        vigo_core::docgen::splice(text, BEGIN, END, &markdown_table())
            .ok_or_else(|| format!("lacks the markers {BEGIN:?} … {END:?}"))
    })
    .unwrap_or_else(|e| panic!("{e}"));
}
