//! vigocli is a synchronous program: what it links (its normal dependencies, as
//! `cargo tree` resolves them for vigo-cli alone) holds neither an async runtime nor the
//! gRPC stack, and — like the whole workspace — no aws-lc-rs (TLS is rustls with ring).

use std::process::Command;

/// Crates vigocli must not link.
const FORBIDDEN: &[&str] = &["tokio", "tonic", "hyper", "h2", "aws-lc-rs", "aws-lc-sys"];

#[test]
fn vigocli_links_neither_tokio_nor_tonic() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "vigo-cli", "-e", "normal", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each line is `name vX.Y.Z …`.
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(
        names.contains(&"ureq"),
        "the tree is not vigocli's:\n{tree}"
    );
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(f)).collect();
    assert!(
        found.is_empty(),
        "vigocli links {found:?}; `cargo tree -p vigo-cli -e normal -i {}` shows through what",
        found.first().map_or("", |f| **f)
    );
}
