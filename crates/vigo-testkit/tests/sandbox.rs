//! A disposable Debian root runs real tools as root and changes nothing on the host.

use std::path::Path;

use sha2::{Digest, Sha256};
use vigo_testkit::SandboxRoot;

fn digest(path: &str) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap_or_default()))
}

#[test]
fn apt_and_useradd_work_inside_and_the_host_is_unchanged() {
    let host_before = (
        digest("/etc/passwd"),
        digest("/var/lib/dpkg/status"),
        Path::new("/usr/bin/tree").exists(),
    );
    let root = SandboxRoot::builder()
        .hostname("box1")
        .build()
        .expect("sandbox");

    let out = root
        .run("apt-get install -y -q --no-install-recommends tree && tree --version")
        .unwrap();
    assert!(
        out.success(),
        "apt-get install tree failed: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("tree v"), "{}", out.stdout);
    let out = root
        .run("useradd -m alice && getent passwd alice && id -u alice")
        .unwrap();
    assert!(out.success(), "{}", out.stderr);
    assert!(out.stdout.starts_with("alice:x:"), "{}", out.stdout);
    assert_eq!(root.run("hostname").unwrap().stdout.trim(), "box1");
    assert_eq!(root.run("id -u").unwrap().stdout.trim(), "0", "root inside");

    // The change is in the overlay's upper dir and readable through the sandbox.
    assert!(root.upper_dir().join("usr/bin/tree").exists());
    assert!(root.read_file("/etc/passwd").unwrap().contains("alice:"));
    assert!(root.upper_dir().join("home/alice").is_dir());

    let footprint = root.footprint().clone();
    root.close().expect("clean teardown");
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
    let host_after = (
        digest("/etc/passwd"),
        digest("/var/lib/dpkg/status"),
        Path::new("/usr/bin/tree").exists(),
    );
    assert_eq!(host_before, host_after, "the host changed");
}

#[test]
fn bound_binary_is_read_only_and_devices_are_private() {
    let root = SandboxRoot::builder()
        .with_binary("/bin/true", "/usr/local/sbin/vigo")
        .build()
        .expect("sandbox");
    assert!(
        root.run("/usr/local/sbin/vigo").unwrap().success(),
        "bound binary runs"
    );
    let out = root.run("echo x > /usr/local/sbin/vigo").unwrap();
    assert!(!out.success(), "the bound binary must be read-only");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    // /dev/null is the sandbox's own node: chown inside cannot touch the host's.
    let before = std::fs::metadata("/dev/null")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    assert!(
        root.run("chown 65534 /dev/null && echo ok > /dev/null")
            .unwrap()
            .success()
    );
    let after = std::fs::metadata("/dev/null")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    assert_eq!(before, after, "host /dev/null untouched");
    assert!(
        !root
            .run("echo 1 > /proc/sys/kernel/panic")
            .unwrap()
            .success(),
        "/proc/sys is read-only"
    );
    // Its PID namespace: the only processes are its own.
    let ps = root.run("ls /proc | grep -c '^[0-9]'").unwrap();
    let n: u32 = ps.stdout.trim().parse().unwrap();
    assert!(n < 10, "{n} processes visible");
}

#[test]
fn drop_cleans_up_too_and_sandboxes_are_independent() {
    let a = SandboxRoot::new().expect("sandbox a");
    let b = SandboxRoot::new().expect("sandbox b");
    a.write_file("/etc/only-in-a", "a").unwrap();
    assert!(a.exists("/etc/only-in-a"));
    assert!(!b.exists("/etc/only-in-a"));
    let footprint = a.footprint().clone();
    drop(a);
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
    assert!(b.run("true").unwrap().success(), "b survives a's teardown");
}

#[test]
fn a_command_that_hangs_is_cut_off() {
    let root = SandboxRoot::new().expect("sandbox");
    let out = root
        .run_timeout("sleep 30", std::time::Duration::from_millis(300))
        .unwrap();
    assert_eq!(out.code, None);
    assert!(out.stderr.contains("timed out"));
}

#[test]
fn a_sandbox_that_cannot_be_made_fails_with_the_reason() {
    let err = SandboxRoot::builder()
        .with_binary("/nonexistent/vigo", "/usr/local/sbin/vigo")
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary to bind /nonexistent/vigo does not exist"
    );
    let err = SandboxRoot::builder()
        .with_binary("/bin/true", "relative/path")
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "bind target relative/path is not absolute");
}
