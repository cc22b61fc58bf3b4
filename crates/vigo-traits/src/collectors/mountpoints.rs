//! `mountpoints`: every mount, from `/proc/self/mounts`.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One mount.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Mount {
        /// What is mounted (`/dev/vda1`, `tmpfs`).
        pub device: String,
        /// Where.
        pub mountpoint: String,
        /// Filesystem type.
        pub fstype: String,
        /// Mount options.
        pub options: Vec<String>,
    }
}

crate::trait_struct! {
    /// The `mountpoints` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Mountpoints {
        /// Mounts in mount order.
        pub mounts: Vec<Mount>,
    }
}

/// Undoes the octal escapes of the mounts file (`\040` for a space).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(u8::try_from(n).unwrap_or(b'?'));
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the mounts file.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            Some(Mount {
                device: unescape(p.first()?),
                mountpoint: unescape(p.get(1)?),
                fstype: (*p.get(2)?).to_owned(),
                options: p.get(3)?.split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// Collects `mountpoints`.
pub fn collect(ctx: &Ctx) -> Result<Mountpoints, TraitError> {
    Ok(Mountpoints {
        mounts: parse(&ctx.read("/proc/self/mounts")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("/plain"), "/plain");
        let m = parse("/dev/sda1 / ext4 rw,relatime 0 0\n");
        assert_eq!(m[0].options, vec!["rw", "relatime"]);
    }
}
