//! package: real apt operations against the Debian mirror, inside a sandbox.

use serde_json::json;

use crate::support::{apply, rejects, sandbox, sh};

#[test]
fn install_noop_remove_and_purge_with_apt() {
    let root = sandbox();
    let present =
        json!({"package": "tree, less", "state": "present", "flags": "--no-install-recommends"});
    let dry = apply(&root, "package", "r", &present, true);
    assert_eq!(dry.action, "created", "{dry:?}");
    assert_eq!(
        sh(&root, "dpkg-query -W -f '${Status}' tree 2>&1 || true").trim(),
        "dpkg-query: no packages found matching tree",
        "dry-run installed nothing"
    );
    let first = apply(&root, "package", "r", &present, false);
    assert_eq!(first.action, "created", "{first:?}");
    assert_eq!(
        sh(&root, "dpkg-query -W -f '${Status}\\n' tree less").trim(),
        "install ok installed\ninstall ok installed"
    );
    assert_eq!(apply(&root, "package", "r", &present, false).action, "none");

    // Drift: someone removed one of them.
    sh(&root, "apt-get remove -y -q tree >/dev/null");
    let dry = apply(&root, "package", "r", &present, true);
    assert_eq!(
        (dry.action.as_str(), dry.message.as_str()),
        ("updated", "tree absent → installed")
    );
    assert_eq!(
        apply(&root, "package", "r", &present, false).action,
        "updated"
    );
    assert!(root.exists("/usr/bin/tree"));

    // Hold at the installed version, then remove (unholding first) with purge.
    let version = sh(&root, "dpkg-query -W -f '${Version}' tree");
    let held = apply(
        &root,
        "package",
        "r",
        &json!({"package": "tree", "version": version.trim(), "lock_version": true, "state": "present"}),
        false,
    );
    assert_eq!(held.action, "updated", "{held:?}");
    assert_eq!(sh(&root, "apt-mark showhold").trim(), "tree");
    let gone = apply(
        &root,
        "package",
        "r",
        &json!({"package": "tree", "state": "absent", "purge": true}),
        false,
    );
    assert_eq!(gone.action, "deleted", "{gone:?}");
    assert_eq!(
        sh(
            &root,
            "dpkg-query -W -f '${Status}' tree 2>/dev/null || echo purged"
        )
        .trim(),
        "purged"
    );
    assert_eq!(
        apply(
            &root,
            "package",
            "r",
            &json!({"package": "tree", "state": "absent"}),
            false
        )
        .action,
        "none"
    );

    rejects(
        &root,
        "package",
        &json!({"package": "vigo", "state": "absent"}),
        "configcrate \"cli\" resource \"r\": would remove protected package vigo",
    );
    let missing = apply(
        &root,
        "package",
        "r",
        &json!({"package": "no-such-package-vigo", "state": "present"}),
        false,
    );
    assert_eq!(missing.action, "error");
    assert!(
        missing
            .message
            .contains("Unable to locate package no-such-package-vigo"),
        "{missing:?}"
    );
}
