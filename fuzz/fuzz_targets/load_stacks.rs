//! Any bytes, cut into the files of a small `stacks/` tree, load (or fail with
//! diagnostics) without panicking; a tree that loads resolves, traces and encodes.
//!
//! Input: NUL-separated chunks, the n-th becoming the n-th path of `PATHS`. The tree is
//! built in memory: the loader never needs the file system.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, Resolver};

const PATHS: &[&str] = &[
    "envoys.vgo",
    "configcrates/a.vgo",
    "roles.vgo",
    "configcrates/b.vgo",
    "common.vgo",
    "environments.vgo",
    "templates/t.tmpl",
    "usercrates/u.vgo",
    "executors.vgo",
    "prod/web.vgo",
    "prod/common.vgo",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut tree = SourceTree::new();
    for (path, chunk) in PATHS.iter().zip(text.split('\0')) {
        tree.insert(path, chunk);
    }
    let Ok(stack) = vigo_lang::load(&tree) else {
        return;
    };
    let resolver = Resolver::new(Arc::new(stack), BundleMeta::default());
    for host in ["web-1.prod.example.net", "db", ""] {
        if let Ok(bundle) = resolver.resolve(host, None) {
            let _ = vigo_core::signing::encode(&bundle.to_proto());
        }
        let _ = resolver.trace(host, Some("production")).to_string();
    }
});
