//! The clock offset file of test builds: how a test moves the clock of a *process* it
//! started (the real `vigosrv` or `vigo`) instead of waiting.
//!
//! The binaries honour it only when built with their dev-only cargo feature `test-clock`
//! (see docs/testing.md, "Ports and time"); this module holds just the variable's name
//! and the reading, so both binaries and the test helpers that write the file agree.
//! The file holds one signed whole number of seconds added to the system time; a
//! missing, empty or unreadable file, or one holding anything else, is 0.

use std::io::Read;
use std::path::Path;

/// The environment variable naming the offset file.
pub const TEST_CLOCK_FILE_ENV: &str = "VIGO_TEST_CLOCK_FILE";

/// The most bytes read from the offset file: a number of seconds is far shorter.
const MAX_LEN: u64 = 64;

/// The offset, in seconds, that the file at `path` holds (0 when there is none).
pub fn offset_seconds(path: &Path) -> i64 {
    let mut text = String::new();
    match std::fs::File::open(path).and_then(|f| f.take(MAX_LEN).read_to_string(&mut text)) {
        Ok(_) => text.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_the_number_in_the_file_and_zero_otherwise() {
        let dir = tempfile_dir();
        let file = dir.join("offset");
        assert_eq!(offset_seconds(&file), 0, "missing file");
        for (text, want) in [("42\n", 42), ("-7", -7), ("", 0), ("soon", 0)] {
            std::fs::write(&file, text).unwrap();
            assert_eq!(offset_seconds(&file), want, "{text:?}");
        }
        std::fs::write(&file, "1".repeat(10_000)).unwrap();
        assert_eq!(offset_seconds(&file), 0, "overlong content is no number");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("vigo-test-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
