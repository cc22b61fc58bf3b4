//! Any text parses or fails cleanly as a template, and renders or fails cleanly — with
//! and without secrets, within the engine's step and output limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigo_lang::secret::{MARKER_END, MARKER_START};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = vigo_lang::template::Template::parse("fuzz", text)
    {
        let secret = format!("{MARKER_START}db/pw{MARKER_END}");
        let values = serde_json::json!({
            "Vars": {"a": [1, 2.5, null, "x"], "b": {"c": "d"}, "pw": secret, "n": 3},
            "Traits": {}
        });
        let _ = t.render(&values);
        let resolve = |path: &str| (path == "db/pw").then(|| "{{ s3cr3t }}".to_owned());
        let _ = t.render_with_secrets(&values, &resolve);
    }
});
