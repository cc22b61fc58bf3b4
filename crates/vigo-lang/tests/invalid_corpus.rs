//! The corpus of invalid stacks: every `tests/invalid/<case>/stacks/` must fail to load
//! with exactly the errors in `tests/invalid/<case>/expected.txt` (one per line).
//! `VIGO_BLESS=1 cargo nextest run -p vigo-lang --test invalid_corpus` rewrites the
//! expected files from the current output (review the diff before committing).

use std::path::Path;

use vigo_lang::SourceTree;

#[test]
fn every_invalid_stack_fails_with_its_expected_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let bless = std::env::var_os("VIGO_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/invalid")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap_or_default().to_string_lossy();
        let tree = SourceTree::read_dir(&case.join("stacks")).expect("read case");
        let got = match vigo_lang::load(&tree) {
            Ok(_) => "(loaded without errors)".to_owned(),
            Err(e) => e.to_string(),
        };
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, format!("{got}\n")).expect("write expected.txt");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != got {
            failures.push(format!(
                "--- {name}\nexpected:\n{}\ngot:\n{got}\n",
                expected.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
