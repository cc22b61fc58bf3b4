//! The trace a user reads, whole, through the real binary and the one pipeline: one
//! resource created, left alone, updated, deleted, previewed, refused by a guardrail and
//! failed (`/bin/false`), each with its summary line (times and temp paths redacted).

mod envoy;

use envoy::Envoy;

#[test]
fn the_trace_of_every_action_through_vigo_resource() {
    let e = Envoy::new();
    let target = format!("target_path={}", e.path("motd").display());
    let motd = |extra: &[&'static str]| {
        let mut v = vec![
            "resource".to_owned(),
            "file".into(),
            "motd".into(),
            target.clone(),
        ];
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let owned = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let steps: [(&str, Vec<String>); 7] = [
        (
            // The global `vigo --dry-run`, which `resource` honours like `run` and `apply`.
            "dry-run",
            [
                vec!["--dry-run".to_owned()],
                motd(&["content=hello\n", "state=present"]),
            ]
            .concat(),
        ),
        ("create", motd(&["content=hello\n", "state=present"])),
        ("none", motd(&["content=hello\n", "state=present"])),
        ("update", motd(&["content=bye\n", "state=present"])),
        ("delete", motd(&["state=absent"])),
        (
            "guardrail",
            // A dry-run: were the guardrail ever to fail, nothing on the host changes.
            owned(&[
                "resource",
                "file",
                "self",
                "target_path=/usr/local/sbin/vigo",
                "state=absent",
                "--dry-run",
            ]),
        ),
        (
            "failed",
            owned(&["resource", "exec", "fails", "command=/bin/false"]),
        ),
    ];
    let mut log = String::new();
    for (what, args) in steps {
        let out = e.vigo().args(&args).output().unwrap();
        log.push_str(&format!(
            "# {what}: exit {}\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stderr).unwrap()
        ));
    }
    assert!(!e.path("motd").exists(), "deleted at the end");
    let tmp = e.tmp.path().to_str().unwrap().to_owned();
    insta::with_settings!({filters => vec![
        (tmp.as_str(), "[TMP]"),
        (r"\d+\.\dms", "[T]ms"),
        (r"sha256:[0-9a-f]{12}", "sha256:[HASH]"),
    ]}, {
        insta::assert_snapshot!(log);
    });
}
