//! `blockdevices`: whole block devices from sysfs, keyed by name (`sda`, `nvme0n1`, `vda`);
//! `loop`, `ram`, `dm-` and other virtual devices are skipped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One block device.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct BlockDevice {
        /// `size` × 512.
        pub size_bytes: u64,
        /// `device/vendor`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub vendor: Option<String>,
        /// `device/model`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub model: Option<String>,
        /// `device/serial`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub serial: Option<String>,
        /// `device/firmware_rev` (or `device/rev`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub firmware_rev: Option<String>,
        /// `ro`.
        pub readonly: bool,
        /// Not rotational (`queue/rotational` = 0).
        pub ssd: bool,
    }
}

/// The `blockdevices` trait.
pub type BlockDevices = BTreeMap<String, BlockDevice>;

/// Devices that are not hardware.
pub fn is_virtual(name: &str) -> bool {
    ["loop", "ram", "dm-", "zram", "md", "nbd", "sr"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Collects `blockdevices`.
pub fn collect(ctx: &Ctx) -> Result<BlockDevices, TraitError> {
    let rd =
        std::fs::read_dir(ctx.path("/sys/block")).map_err(|e| TraitError::read("/sys/block", e))?;
    let mut out = BTreeMap::new();
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_virtual(&name) {
            continue;
        }
        let attr = |f: &str| ctx.read_opt(&format!("/sys/block/{name}/{f}"));
        let Some(size) = attr("size").and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        out.insert(
            name.clone(),
            BlockDevice {
                size_bytes: size * 512,
                vendor: attr("device/vendor"),
                model: attr("device/model"),
                serial: attr("device/serial"),
                firmware_rev: attr("device/firmware_rev").or_else(|| attr("device/rev")),
                readonly: attr("ro").as_deref() == Some("1"),
                ssd: attr("queue/rotational").as_deref() == Some("0"),
            },
        );
    }
    Ok(out)
}
