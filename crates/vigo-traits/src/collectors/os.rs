//! `os`: the distribution, its family and upstream, the kernel and the architecture.
//!
//! From `/etc/os-release` (upstream rules: Ubuntu derivatives use `UBUNTU_CODENAME`,
//! `ID_LIKE` names the upstream otherwise) and the kernel's own `osrelease`/`uname`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `os` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Os {
        /// Packaging lineage: debian, rhel, suse, arch, gentoo, slackware, alpine (or the id).
        pub family: String,
        /// `ID` of os-release (`debian`, `ubuntu`, `rocky`).
        pub distro: String,
        /// `VERSION_ID`.
        pub version: String,
        /// `PRETTY_NAME`.
        pub name: String,
        /// `VERSION_CODENAME`.
        pub codename: String,
        /// Kernel release.
        pub kernel: String,
        /// Go/Docker convention: amd64, arm64, 386, arm, ppc64le, s390x, riscv64.
        pub arch: String,
        /// Platform convention: x86_64, aarch64, …
        pub arch_raw: String,
        /// Upstream distribution for third-party repositories (Mint → ubuntu, Rocky → rhel).
        pub upstream_id: String,
        /// Upstream codename.
        pub upstream_codename: String,
    }
}

/// Parses os-release `KEY=value` lines (quotes removed).
pub fn parse_os_release(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim().trim_matches('"').trim_matches('\'').to_owned(),
            )
        })
        .collect()
}

fn family_of(id: &str, id_like: &str) -> String {
    let words: Vec<&str> = std::iter::once(id)
        .chain(id_like.split_whitespace())
        .collect();
    for w in &words {
        let fam = match *w {
            "debian" | "ubuntu" => "debian",
            "rhel" | "fedora" | "centos" | "rocky" | "almalinux" | "ol" | "amzn" => "rhel",
            "suse" | "opensuse" | "sles" | "opensuse-leap" | "opensuse-tumbleweed" => "suse",
            "arch" | "manjaro" => "arch",
            "gentoo" => "gentoo",
            "slackware" => "slackware",
            "alpine" => "alpine",
            _ => continue,
        };
        return fam.to_owned();
    }
    id.to_owned()
}

/// `x86_64` → `amd64`, and so on.
pub fn arch_of(raw: &str) -> String {
    match raw {
        "x86_64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i486" | "i586" | "i686" => "386",
        "armv7l" | "armv6l" => "arm",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
    .to_owned()
}

/// Collects `os`.
pub fn collect(ctx: &Ctx) -> Result<Os, TraitError> {
    let text = ctx
        .read("/etc/os-release")
        .or_else(|_| ctx.read("/usr/lib/os-release"))?;
    let r = parse_os_release(&text);
    let get = |k: &str| r.get(k).cloned().unwrap_or_default();
    let (id, id_like) = (get("ID"), get("ID_LIKE"));
    let (upstream_id, upstream_codename) = if !get("UBUNTU_CODENAME").is_empty() {
        ("ubuntu".to_owned(), get("UBUNTU_CODENAME"))
    } else if let Some(first) = id_like.split_whitespace().next() {
        let up = if family_of(first, "") == "rhel" {
            "rhel".to_owned()
        } else {
            first.to_owned()
        };
        (up, get("VERSION_CODENAME"))
    } else {
        (id.clone(), get("VERSION_CODENAME"))
    };
    let uts = nix::sys::utsname::uname().map_err(|e| TraitError::system("uname", e))?;
    let kernel = ctx
        .read_opt("/proc/sys/kernel/osrelease")
        .unwrap_or_else(|| uts.release().to_string_lossy().into_owned());
    let arch_raw = uts.machine().to_string_lossy().into_owned();
    Ok(Os {
        family: family_of(&id, &id_like),
        distro: id,
        version: get("VERSION_ID"),
        name: get("PRETTY_NAME"),
        codename: get("VERSION_CODENAME"),
        kernel,
        arch: arch_of(&arch_raw),
        arch_raw,
        upstream_id,
        upstream_codename,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(text: &str) -> (String, String, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/os-release"), text).unwrap();
        let os = collect(&Ctx::with_root(dir.path())).unwrap();
        (os.family, os.upstream_id, os.upstream_codename)
    }

    #[test]
    fn upstream_rules() {
        assert_eq!(
            upstream("ID=debian\nVERSION_CODENAME=bookworm\n"),
            ("debian".into(), "debian".into(), "bookworm".into())
        );
        assert_eq!(
            upstream(
                "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nUBUNTU_CODENAME=noble\nVERSION_CODENAME=wilma\n"
            ),
            ("debian".into(), "ubuntu".into(), "noble".into())
        );
        assert_eq!(
            upstream(
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_CODENAME=\"Blue Onyx\"\n"
            ),
            ("rhel".into(), "rhel".into(), "Blue Onyx".into())
        );
        assert_eq!(
            upstream("ID=fedora\nVERSION_CODENAME=\"\"\n"),
            ("rhel".into(), "fedora".into(), String::new())
        );
        assert_eq!(
            upstream("ID=lmde\nID_LIKE=debian\nVERSION_CODENAME=faye\n"),
            ("debian".into(), "debian".into(), "faye".into())
        );
    }

    #[test]
    fn arches() {
        assert_eq!(arch_of("x86_64"), "amd64");
        assert_eq!(arch_of("aarch64"), "arm64");
        assert_eq!(arch_of("i686"), "386");
    }
}
