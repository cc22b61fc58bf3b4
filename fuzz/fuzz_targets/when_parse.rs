//! Any text parses or fails cleanly as a `when:` condition.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigo_lang::when::parse(text);
    }
});
