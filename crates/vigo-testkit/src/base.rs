//! The two Debian base roots every fixture starts from, built once and cached outside the
//! repository.
//!
//! - [`BaseKind::Minimal`]: `debootstrap --variant=minbase bookworm`, the host's own apt
//!   sources (deb822), `apt-get update` already run, no `/etc/hostname`, an empty
//!   `/etc/machine-id`. For executor tests in a [`crate::SandboxRoot`].
//! - [`BaseKind::Systemd`]: Minimal plus `systemd systemd-sysv dbus procps iproute2`, for
//!   booted [`crate::SystemdContainer`]s.
//!
//! Cache: `$VIGO_TESTKIT_CACHE` (default `/var/cache/vigo-testkit`), one directory per
//! base named `<kind>-<key>`, where the key hashes the whole recipe (suite, variant,
//! packages, mirror, the host's sources file, and [`RECIPE_VERSION`]): a changed recipe
//! builds a new base and never reuses a stale one. A base is built in a temporary
//! directory and renamed into place only when complete, under an exclusive lock, so
//! parallel test processes wait for one build instead of racing. The cache holds the
//! unpacked tree rather than a `.tar.zst`: overlayfs needs a directory as its lower
//! layer, so an unpacked cache makes restore free instead of the 3–6 s an unpack costs.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::output::must;

/// Bump when the recipe below changes in a way the key does not capture.
pub const RECIPE_VERSION: u32 = 1;

/// The Debian suite every sandbox root is built from (whatever the host runs).
pub const SUITE: &str = "bookworm";
const SYSTEMD_PACKAGES: &[&str] = &["systemd", "systemd-sysv", "dbus", "procps", "iproute2"];

/// Which base root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseKind {
    /// debootstrap minbase with apt ready.
    Minimal,
    /// Minimal plus systemd, for booted containers.
    Systemd,
}

impl BaseKind {
    fn name(self) -> &'static str {
        match self {
            BaseKind::Minimal => "minimal",
            BaseKind::Systemd => "systemd",
        }
    }
}

/// Where bases are cached.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("VIGO_TESTKIT_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/vigo-testkit"), PathBuf::from)
}

/// The host's Debian mirror, from its deb822 sources file (never hard-coded).
fn host_sources() -> Result<(String, String), Error> {
    let path = Path::new("/etc/apt/sources.list.d/debian.sources");
    let text =
        fs::read_to_string(path).map_err(Error::io("reading the host's apt sources", path))?;
    let mirror = text
        .lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|u| u.split_whitespace().next())
        .ok_or_else(|| Error::Other(format!("{} has no URIs: line", path.display())))?
        .to_owned();
    Ok((mirror, text))
}

fn key(kind: BaseKind, mirror: &str, sources: &str) -> String {
    let recipe = format!(
        "v{RECIPE_VERSION}\nsuite={SUITE}\nvariant=minbase\nmirror={mirror}\nsystemd={}\nkind={}\nsources:\n{sources}",
        SYSTEMD_PACKAGES.join(","),
        kind.name()
    );
    hex::encode(&Sha256::digest(recipe.as_bytes())[..8])
}

/// The root directory of a base, building it first when it is not cached.
///
/// Build progress goes to stderr (a cold minimal base takes about a minute here).
pub fn base_root(kind: BaseKind) -> Result<PathBuf, Error> {
    for (tool, hint) in [
        (
            "/usr/sbin/debootstrap",
            "apt-get install --no-install-recommends debootstrap",
        ),
        (
            "/usr/bin/systemd-nspawn",
            "apt-get install --no-install-recommends systemd-container",
        ),
    ] {
        if !Path::new(tool).exists() {
            return Err(Error::MissingTool { tool, hint });
        }
    }
    let (mirror, sources) = host_sources()?;
    let cache = cache_dir();
    fs::create_dir_all(&cache).map_err(Error::io("creating the cache", &cache))?;
    let dir = cache.join(format!("{}-{}", kind.name(), key(kind, &mirror, &sources)));
    if dir.join("complete").exists() {
        return Ok(dir.join("root"));
    }
    let lock_path = cache.join(format!("{}.lock", kind.name()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::io("opening the build lock", &lock_path))?;
    lock.lock().map_err(Error::io("locking", &lock_path))?;
    if dir.join("complete").exists() {
        return Ok(dir.join("root"));
    }
    let started = Instant::now();
    eprintln!(
        "vigo-testkit: building the {} Debian base in {} (cached afterwards)",
        kind.name(),
        dir.display()
    );
    let tmp = cache.join(format!("{}.building.{}", kind.name(), std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(Error::io("removing a stale build", &tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(Error::io("creating", &tmp))?;
    let root = tmp.join("root");
    let built = match kind {
        BaseKind::Minimal => build_minimal(&root, &mirror, &sources),
        BaseKind::Systemd => {
            base_root(BaseKind::Minimal).and_then(|minimal| build_systemd(&minimal, &root))
        }
    };
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    fs::write(
        tmp.join("complete"),
        format!("built in {:.1}s\n", started.elapsed().as_secs_f64()),
    )
    .map_err(Error::io("marking complete", &tmp))?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(Error::io("removing an incomplete base", &dir))?;
    }
    fs::rename(&tmp, &dir).map_err(Error::io("moving the base into place", &dir))?;
    eprintln!(
        "vigo-testkit: {} base ready in {:.1}s",
        kind.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(dir.join("root"))
}

/// Runs a command in a not-booted container on `root` (nspawn sets up /proc, /dev and
/// the host's resolv.conf, and shares the host network so apt reaches the mirror).
fn in_root(what: &str, root: &Path, cmd: &[&str], timeout: Duration) -> Result<(), Error> {
    let dir = root.to_string_lossy();
    let mut argv = vec![
        "systemd-nspawn",
        "-q",
        "--register=no",
        "--keep-unit",
        "-D",
        &dir,
        "--setenv=DEBIAN_FRONTEND=noninteractive",
    ];
    argv.extend(cmd);
    must(what, &argv, timeout).map(drop)
}

fn finish_root(root: &Path) -> Result<(), Error> {
    let hostname = root.join("etc/hostname");
    if hostname.exists() {
        fs::remove_file(&hostname).map_err(Error::io("removing", &hostname))?;
    }
    let machine_id = root.join("etc/machine-id");
    fs::write(&machine_id, "").map_err(Error::io("emptying", &machine_id))?;
    Ok(())
}

fn build_minimal(root: &Path, mirror: &str, sources: &str) -> Result<(), Error> {
    let dir = root.to_string_lossy();
    must(
        "debootstrap",
        &["debootstrap", "--variant=minbase", SUITE, &dir, mirror],
        Duration::from_secs(1_200),
    )?;
    let list = root.join("etc/apt/sources.list");
    if list.exists() {
        fs::remove_file(&list).map_err(Error::io("removing", &list))?;
    }
    let deb822 = root.join("etc/apt/sources.list.d/debian.sources");
    fs::write(&deb822, sources).map_err(Error::io("writing", &deb822))?;
    in_root(
        "apt-get update in the base",
        root,
        &["apt-get", "update", "-q"],
        Duration::from_secs(600),
    )?;
    finish_root(root)
}

fn build_systemd(minimal: &Path, root: &Path) -> Result<(), Error> {
    let (src, dst) = (minimal.to_string_lossy(), root.to_string_lossy());
    must(
        "copying the minimal base",
        &["cp", "-a", "--reflink=auto", &src, &dst],
        Duration::from_secs(600),
    )?;
    let mut cmd = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    cmd.extend(SYSTEMD_PACKAGES);
    in_root(
        "installing systemd in the base",
        root,
        &cmd,
        Duration::from_secs(900),
    )?;
    in_root(
        "cleaning apt's archive cache",
        root,
        &["apt-get", "clean"],
        Duration::from_secs(60),
    )?;
    finish_root(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_the_recipe() {
        let a = key(BaseKind::Minimal, "http://deb.debian.org/debian", "URIs: x");
        assert_eq!(
            a,
            key(BaseKind::Minimal, "http://deb.debian.org/debian", "URIs: x")
        );
        assert_ne!(
            a,
            key(BaseKind::Minimal, "http://mirror.example/debian", "URIs: x")
        );
        assert_ne!(
            a,
            key(BaseKind::Systemd, "http://deb.debian.org/debian", "URIs: x")
        );
        assert_ne!(
            a,
            key(BaseKind::Minimal, "http://deb.debian.org/debian", "URIs: y")
        );
    }
}
