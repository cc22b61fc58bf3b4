//! `hardware`: CPUs, memory and disks in summary (`hardware.cpu_count`,
//! `hardware.memory_mb` are the fields templates use).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kb_fields;
use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `hardware` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Hardware {
        /// Logical CPUs.
        pub cpu_count: u32,
        /// Physical cores (distinct core ids per package).
        pub cpu_cores: u32,
        /// Sockets (distinct physical ids).
        pub cpu_sockets: u32,
        /// Model name of the first CPU.
        pub cpu_model: String,
        /// Vendor id of the first CPU.
        pub cpu_vendor: String,
        /// Physical memory in MiB.
        pub memory_mb: u64,
        /// Size in GB (10^9) of each disk (whole block device, virtual ones skipped).
        pub disks_gb: BTreeMap<String, u64>,
        /// The machine is virtualised (the CPU's `hypervisor` flag).
        pub virtual_machine: bool,
    }
}

/// Collects `hardware`.
pub fn collect(ctx: &Ctx) -> Result<Hardware, TraitError> {
    let cpuinfo = ctx.read("/proc/cpuinfo")?;
    let mut count = 0u32;
    let mut cores = std::collections::BTreeSet::new();
    let mut sockets = std::collections::BTreeSet::new();
    let (mut model, mut vendor, mut flags) = (String::new(), String::new(), String::new());
    let mut physical = String::new();
    for line in cpuinfo.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => count += 1,
            "model name" | "Model" if model.is_empty() => model = v.to_owned(),
            "vendor_id" | "CPU implementer" if vendor.is_empty() => vendor = v.to_owned(),
            "flags" | "Features" if flags.is_empty() => flags = v.to_owned(),
            "physical id" => {
                physical = v.to_owned();
                sockets.insert(v.to_owned());
            }
            "core id" => {
                cores.insert(format!("{physical}:{v}"));
            }
            _ => {}
        }
    }
    let memory_mb = kb_fields(&ctx.read("/proc/meminfo")?)
        .get("MemTotal")
        .copied()
        .unwrap_or(0)
        / (1024 * 1024);
    let mut disks_gb = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(ctx.path("/sys/block")) {
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if super::blockdevices::is_virtual(&name) {
                continue;
            }
            if let Some(sectors) = ctx
                .read_opt(&format!("/sys/block/{name}/size"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                disks_gb.insert(name, sectors * 512 / 1_000_000_000);
            }
        }
    }
    Ok(Hardware {
        cpu_count: count.max(1),
        cpu_cores: u32::try_from(cores.len())
            .unwrap_or(0)
            .max(1)
            .min(count.max(1)),
        cpu_sockets: u32::try_from(sockets.len()).unwrap_or(0).max(1),
        cpu_model: model,
        cpu_vendor: vendor,
        memory_mb,
        disks_gb,
        virtual_machine: flags.split_whitespace().any(|f| f == "hypervisor"),
    })
}
