//! `dmi`: firmware and board identity from `/sys/class/dmi/id/`, and the memory devices
//! from the SMBIOS type 17 tables in `/sys/firmware/dmi/entries/` (x86/UEFI).

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One populated memory slot (SMBIOS type 17).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct MemoryDevice {
        /// `DIMM_A1`.
        pub locator: String,
        /// Manufacturer.
        pub manufacturer: String,
        /// Part number.
        pub part_number: String,
        /// Serial number.
        pub serial_number: String,
        /// Size in bytes.
        pub size_bytes: u64,
        /// Speed in MT/s.
        pub speed_mts: u32,
    }
}

crate::trait_struct! {
    /// The `dmi` trait; a field is omitted when the firmware does not provide it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Dmi {
        /// BIOS vendor.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub bios_vendor: Option<String>,
        /// BIOS version.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub bios_version: Option<String>,
        /// BIOS date.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub bios_date: Option<String>,
        /// Board vendor.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub board_vendor: Option<String>,
        /// Board name.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub board_name: Option<String>,
        /// Product name.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub product_name: Option<String>,
        /// Product serial (readable by root only).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub product_serial: Option<String>,
        /// System vendor.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub product_vendor: Option<String>,
        /// Chassis type code (`3` desktop, `10` notebook, `1` other/virtual).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub chassis_type: Option<String>,
        /// Chassis asset tag (clouds put their name here).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub chassis_asset_tag: Option<String>,
        /// Populated memory slots.
        pub memory_devices: Vec<MemoryDevice>,
    }
}

/// Parses one SMBIOS type 17 structure; `None` for an empty slot or a short table.
pub fn parse_type17(raw: &[u8]) -> Option<MemoryDevice> {
    let len = usize::from(*raw.get(1)?);
    if raw.first() != Some(&17) || raw.len() < len || len < 0x1B {
        return None;
    }
    let strings: Vec<String> = raw[len..]
        .split(|b| *b == 0)
        .take_while(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).trim().to_owned())
        .collect();
    let string = |idx: usize| -> String {
        raw.get(idx)
            .and_then(|i| strings.get(usize::from(*i).checked_sub(1)?))
            .cloned()
            .unwrap_or_default()
    };
    let word = |o: usize| raw.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let size_field = word(0x0C)?;
    if size_field == 0 || size_field == 0xFFFF {
        return None;
    }
    let size_bytes = if size_field == 0x7FFF && len >= 0x20 {
        u64::from(u32::from_le_bytes(raw.get(0x1C..0x20)?.try_into().ok()?)) * 1024 * 1024
    } else if size_field & 0x8000 != 0 {
        u64::from(size_field & 0x7FFF) * 1024
    } else {
        u64::from(size_field) * 1024 * 1024
    };
    Some(MemoryDevice {
        locator: string(0x10),
        manufacturer: string(0x17),
        serial_number: string(0x18),
        part_number: string(0x1A),
        size_bytes,
        speed_mts: u32::from(word(0x15).unwrap_or(0)),
    })
}

/// Collects `dmi`.
pub fn collect(ctx: &Ctx) -> Result<Dmi, TraitError> {
    let id = |f: &str| ctx.read_opt(&format!("/sys/class/dmi/id/{f}"));
    if !ctx.path("/sys/class/dmi/id").is_dir() {
        return Ok(Dmi::default());
    }
    let mut memory_devices = Vec::new();
    if let Ok(rd) = std::fs::read_dir(ctx.path("/sys/firmware/dmi/entries")) {
        let mut dirs: Vec<_> = rd
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("17-"))
            .collect();
        dirs.sort_by_key(std::fs::DirEntry::file_name);
        for e in dirs {
            if let Some(dev) = std::fs::read(e.path().join("raw"))
                .ok()
                .and_then(|raw| parse_type17(&raw))
            {
                memory_devices.push(dev);
            }
        }
    }
    Ok(Dmi {
        bios_vendor: id("bios_vendor"),
        bios_version: id("bios_version"),
        bios_date: id("bios_date"),
        board_vendor: id("board_vendor"),
        board_name: id("board_name"),
        product_name: id("product_name"),
        product_serial: id("product_serial"),
        product_vendor: id("sys_vendor"),
        chassis_type: id("chassis_type"),
        chassis_asset_tag: id("chassis_asset_tag"),
        memory_devices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_type17_structure() {
        let mut raw = vec![0u8; 0x28];
        raw[0] = 17;
        raw[1] = 0x28;
        raw[0x0C..0x0E].copy_from_slice(&8192u16.to_le_bytes());
        raw[0x10] = 1;
        raw[0x15..0x17].copy_from_slice(&3200u16.to_le_bytes());
        raw[0x17] = 2;
        raw[0x18] = 3;
        raw[0x1A] = 4;
        raw.extend_from_slice(b"DIMM_A1\0Samsung\0S123\0M378A1K43\0\0");
        let d = parse_type17(&raw).unwrap();
        assert_eq!(
            (
                d.locator.as_str(),
                d.manufacturer.as_str(),
                d.serial_number.as_str(),
                d.part_number.as_str()
            ),
            ("DIMM_A1", "Samsung", "S123", "M378A1K43")
        );
        assert_eq!(d.size_bytes, 8192 * 1024 * 1024);
        assert_eq!(d.speed_mts, 3200);
        raw[0x0C..0x0E].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(parse_type17(&raw), None, "empty slot");
        assert_eq!(parse_type17(&[17]), None, "short table");
    }
}
