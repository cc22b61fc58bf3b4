//! The corpus of invalid stacks: every `tests/invalid/<case>/stacks/` must fail to load,
//! and the diagnostics it prints (file, line, column, what was expected, the hint) are
//! snapshot-tested, one snapshot per case in `tests/snapshots/invalid_corpus__<case>.snap`.
//! After a deliberate change, review and accept with `cargo insta review` (or run with
//! `INSTA_UPDATE=always` and read the diff before committing).

use std::path::Path;

use vigo_lang::SourceTree;

#[test]
fn every_invalid_stack_fails_with_its_snapshotted_diagnostics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/invalid")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    for case in &cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let tree = SourceTree::read_dir(&case.join("stacks")).expect("read case");
        let errors = vigo_lang::load(&tree).expect_err(&format!("{name} loads without errors"));
        // Paths are relative to the case's stacks/, so the text is the same on every machine.
        insta::assert_snapshot!(name.clone(), errors.to_string());
    }
}
