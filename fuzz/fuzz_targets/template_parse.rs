//! Any text parses or fails cleanly as a template, and renders or fails cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = vigo_lang::template::Template::parse("fuzz", text)
    {
        let _ = t.render(&serde_json::json!({"Vars": {"a": [1, 2], "b": {"c": "d"}}, "Traits": {}}));
    }
});
