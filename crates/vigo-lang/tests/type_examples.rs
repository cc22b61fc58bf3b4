//! Every example a user reads in docs/resources.md and `vigo resource TYPE --help` comes
//! from a type's definition; each must publish as written (an example that names a trait
//! the model lacks, or breaks a rule of its own type, teaches a stack that cannot run).

use vigo_core::types::TYPES;
use vigo_lang::{SourceTree, load};

#[test]
fn every_types_example_resource_publishes() {
    let mut failures = Vec::new();
    for t in TYPES {
        let resources: String = t.example.lines().map(|l| format!("  {l}\n")).collect();
        let crate_c = format!("configcrate: c\nresources:\n{resources}");
        let tree = SourceTree::from_files([
            (
                "envoys.vgo",
                "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
            ),
            ("configcrates/c.vgo", crate_c.as_str()),
        ]);
        if let Err(e) = load(&tree) {
            failures.push(format!("{}:\n{e}", t.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
