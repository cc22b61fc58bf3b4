//! The agent's diagnostics with the real binary: `--log-level` (and `log_level` in the
//! config) decide what is printed, and under systemd the lines carry sd-daemon priority
//! prefixes instead of `vigo: warning:`.
//!
//! The probe is `vigo run --dry-run` on an envoy that is not registered and has no
//! cached bundle: a warning (offline: not registered) and an error (no bundle). (A trait
//! collector this machine cannot run may add warnings of its own, so the lines are
//! looked for rather than compared whole.)

mod envoy;

use std::os::unix::fs::MetadataExt;

use envoy::Envoy;

/// Runs the probe with `args` before `run` and `env`, stderr into a file (as systemd
/// connects it to the journal); returns the exit code and stderr.
fn probe(e: &Envoy, args: &[&str], env: &[(&str, String)]) -> (Option<i32>, String) {
    let err_path = e.path("stderr");
    let err = std::fs::File::create(&err_path).unwrap();
    let mut cmd = e.vigo();
    cmd.args(args).args(["run", "--dry-run"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.stderr(err).status().unwrap();
    (status.code(), std::fs::read_to_string(&err_path).unwrap())
}

/// `DEVICE:INODE` of the file the probe writes its stderr to, as in `JOURNAL_STREAM`.
fn stream_of(e: &Envoy) -> String {
    let p = e.path("stderr");
    std::fs::write(&p, "").unwrap();
    let md = std::fs::metadata(&p).unwrap();
    format!("{}:{}", md.dev(), md.ino())
}

#[test]
fn log_level_error_hides_the_warning_that_info_shows() {
    let e = Envoy::new();
    let (code, info) = probe(&e, &["--log-level", "info"], &[]);
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = info.lines().collect();
    assert!(lines.contains(&WARNING), "{info}");
    assert!(lines.contains(&ERROR), "{info}");
    let (code, error) = probe(&e, &["--log-level", "error"], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(error, format!("{ERROR}\n"));
}

const WARNING: &str = "vigo: warning: offline: this envoy is not registered (no envoy_id in the config): run `vigo register` or `vigo bootstrap`";
const ERROR: &str =
    "vigo: no policy bundle to apply: none cached yet (the server has not sent one)";

#[test]
fn log_level_from_the_config_is_honoured_and_the_flag_beats_it() {
    let e = Envoy::new();
    std::fs::write(e.data.join("config"), "log_level: error\n").unwrap();
    let (_, quiet) = probe(&e, &[], &[]);
    assert!(!quiet.contains("warning"), "{quiet}");
    let (_, loud) = probe(&e, &["--log-level", "warn"], &[]);
    assert!(loud.contains("vigo: warning: offline"), "{loud}");
}

#[test]
fn under_the_journal_lines_carry_priorities() {
    let e = Envoy::new();
    let stream = stream_of(&e);
    let (code, text) = probe(&e, &[], &[("JOURNAL_STREAM", stream)]);
    assert_eq!(code, Some(1));
    let journal = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.contains(&WARNING.replace("vigo: warning: ", "<4>").as_str()),
            "{text}"
        );
        assert!(
            lines.contains(&ERROR.replace("vigo: ", "<3>").as_str()),
            "{text}"
        );
        assert!(lines.iter().all(|l| l.starts_with('<')), "{text}");
    };
    journal(&text);

    // A unit without JOURNAL_STREAM whose stderr is not a terminal: the journal shape too.
    let (_, unit) = probe(&e, &[], &[("INVOCATION_ID", "8c1e0d5f".to_owned())]);
    journal(&unit);

    // JOURNAL_STREAM naming another file: stderr was redirected; the terminal shape.
    let (_, redirected) = probe(&e, &[], &[("JOURNAL_STREAM", "1:2".to_owned())]);
    assert!(
        redirected.starts_with("vigo: warning: offline"),
        "{redirected}"
    );
}
