//! The `packages` collector reads a real rpm database (made here with Debian's own `rpm`
//! and `rpmbuild`) exactly as `rpm -qa` does, without a subprocess: through SQLite,
//! including what is still in the write-ahead log, and without writing next to it.

use std::path::Path;
use std::process::Command;

use vigo_traits::collectors::packages::Packages;
use vigo_traits::{Ctx, find, run};

/// Runs `cmd` with `HOME` at `root/home`: Debian's rpm macros put a user database in
/// `~/.rpmdb` whatever `--dbpath` says, and a test never writes outside its temp dir.
fn sh(root: &Path, cmd: &str) -> String {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new("sh")
        .args(["-c", cmd])
        .env("HOME", &home)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Builds `n` noarch packages (some with an epoch, some with long descriptions so their
/// headers overflow a page) and records them in a fresh rpm database under `root`.
fn make_rpmdb(root: &Path, n: usize) {
    let db = root.join("var/lib/rpm");
    std::fs::create_dir_all(&db).unwrap();
    sh(root, &format!("rpm --dbpath {} --initdb", db.display()));
    build(root, 0..n);
    install(root, "vigo-fixture-*");
}

/// Builds the fixture packages numbered `range` under `root/build`.
fn build(root: &Path, range: std::ops::Range<usize>) {
    let top = root.join("build");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    for i in range {
        let epoch = if i % 3 == 0 {
            format!("Epoch: {i}\n")
        } else {
            String::new()
        };
        let long = "padding for a header that overflows one database page. "
            .repeat(if i % 4 == 0 { 200 } else { 1 });
        let spec = format!(
            "Name: vigo-fixture-{i:02}\nVersion: 1.{i}.0\nRelease: {}\n{epoch}Summary: fixture {i}\nLicense: MIT\nBuildArch: noarch\n%description\n{long}\n%files\n",
            i + 1
        );
        let spec_path = top.join(format!("SPECS/f{i}.spec"));
        std::fs::write(&spec_path, spec).unwrap();
        sh(
            root,
            &format!(
                "rpmbuild --quiet --define '_topdir {}' -bb {} 2>/dev/null",
                top.display(),
                spec_path.display()
            ),
        );
    }
}

/// Records the built packages matching `glob` in the database under `root`.
fn install(root: &Path, glob: &str) {
    sh(
        root,
        &format!(
            "rpm --dbpath {}/var/lib/rpm -i --justdb --nodeps --noscripts --ignorearch --ignoreos {}/build/RPMS/noarch/{glob}.rpm 2>/dev/null",
            root.display(),
            root.display()
        ),
    );
}

/// Installs `glob` while a reader holds a snapshot of the database, so the new package
/// stays in the write-ahead log (a checkpoint cannot move pages past a reader's
/// snapshot) for as long as the returned connection lives; also the count before.
fn install_behind_a_reader(root: &Path, glob: &str) -> (rusqlite::Connection, i64) {
    let holder = rusqlite::Connection::open(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    holder.execute_batch("BEGIN").unwrap();
    let before: i64 = holder
        .query_row("SELECT count(*) FROM Packages", [], |r| r.get(0))
        .unwrap();
    install(root, glob);
    (holder, before)
}

/// The `packages` trait collected under `root`.
fn packages(root: &Path) -> Packages {
    let report = run(&[find("packages").unwrap()], &Ctx::with_root(root));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report.values.packages.expect("packages collected")
}

/// The names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn packages_from_a_real_rpmdb_match_rpm_qa() {
    let tmp = tempfile::tempdir().unwrap();
    make_rpmdb(tmp.path(), 40);
    let listed = sh(
        tmp.path(),
        &format!(
            "rpm --dbpath {}/var/lib/rpm -qa --qf '%{{NAME}} %|EPOCH?{{%{{EPOCH}}:}}:{{}}|%{{VERSION}}-%{{RELEASE}}\\n'",
            tmp.path().display()
        ),
    );
    let mut expected: Vec<(String, String)> = listed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 40);

    let t = packages(tmp.path());
    assert_eq!(t.manager, "rpm");
    let got: Vec<(String, String)> = t.installed.into_iter().collect();
    assert_eq!(got, expected);
    assert_eq!(t.count, 40);
}

/// A package installed while another reader holds a snapshot of the database stays in
/// the write-ahead log (a checkpoint cannot move pages past a reader's snapshot): it
/// must be seen, in place and from a copy of the files, and reading must
/// leave the directory as it was.
#[test]
fn a_package_still_in_the_write_ahead_log_is_seen() {
    let tmp = tempfile::tempdir().unwrap();
    make_rpmdb(tmp.path(), 3);
    build(tmp.path(), 3..4);
    let dir = tmp.path().join("var/lib/rpm");
    let db = dir.join("rpmdb.sqlite");
    let (holder, before) = install_behind_a_reader(tmp.path(), "vigo-fixture-03-*");
    let wal = std::fs::metadata(dir.join("rpmdb.sqlite-wal")).unwrap();
    assert!(wal.len() > 0, "the new package is in the log");

    // In place: `-wal` and `-shm` are there, so SQLite reads them and creates nothing.
    let files = listing(&dir);
    let t = packages(tmp.path());
    assert_eq!(t.count as i64, before + 1);
    assert_eq!(
        t.installed.get("vigo-fixture-03").map(String::as_str),
        Some("3:1.3.0-4"),
        "{:?}",
        t.installed
    );
    assert_eq!(
        listing(&dir),
        files,
        "reading wrote nothing next to the database"
    );

    // The database and its log without `-shm` (as a read-only directory can hold them):
    // read from a private copy, and still nothing is written there.
    let bare = tempfile::tempdir().unwrap();
    let bare_db = bare.path().join("var/lib/rpm");
    std::fs::create_dir_all(&bare_db).unwrap();
    for f in ["rpmdb.sqlite", "rpmdb.sqlite-wal"] {
        std::fs::copy(dir.join(f), bare_db.join(f)).unwrap();
    }
    // The database file alone lacks it: a reader that ignored the log would miss it.
    let main_only = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(main_only.path().join("var/lib/rpm")).unwrap();
    std::fs::copy(&db, main_only.path().join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    drop(holder);
    let t = packages(bare.path());
    assert!(
        t.installed.contains_key("vigo-fixture-03"),
        "{:?}",
        t.installed
    );
    assert_eq!(listing(&bare_db), ["rpmdb.sqlite", "rpmdb.sqlite-wal"]);
    let t = packages(main_only.path());
    assert_eq!(t.count as i64, before);
    assert!(!t.installed.contains_key("vigo-fixture-03"));
}

/// The database and its log, no `-shm`, in a directory mounted read-only (inside a private
/// mount namespace made by `unshare`, so the mount never reaches the host): SQLite cannot
/// open it in place there, and the package still in the log is read from a copy.
#[test]
fn a_read_only_directory_is_read_through_a_copy() {
    let tmp = tempfile::tempdir().unwrap();
    make_rpmdb(tmp.path(), 2);
    build(tmp.path(), 3..4);
    let dir = tmp.path().join("var/lib/rpm");
    let (holder, _) = install_behind_a_reader(tmp.path(), "vigo-fixture-03-*");
    let ro = tempfile::tempdir().unwrap();
    let ro_db = ro.path().join("var/lib/rpm");
    std::fs::create_dir_all(&ro_db).unwrap();
    for f in ["rpmdb.sqlite", "rpmdb.sqlite-wal"] {
        std::fs::copy(dir.join(f), ro_db.join(f)).unwrap();
    }
    drop(holder);
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind -o ro "$1" "$1" && exec "$2" --exact read_only_child --include-ignored --nocapture"#)
        .arg("sh")
        .arg(&ro_db)
        .arg(std::env::current_exe().unwrap())
        .env("VIGO_TEST_RO_ROOT", ro.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run by `a_read_only_directory_is_read_through_a_copy` inside its read-only mount.
#[test]
#[ignore = "run inside a read-only mount by a_read_only_directory_is_read_through_a_copy"]
fn read_only_child() {
    let root = std::path::PathBuf::from(std::env::var_os("VIGO_TEST_RO_ROOT").unwrap());
    let dir = root.join("var/lib/rpm");
    assert!(
        std::fs::write(dir.join("probe"), b"").is_err(),
        "the directory is read-only"
    );
    let t = packages(&root);
    assert!(
        t.installed.contains_key("vigo-fixture-03"),
        "{:?}",
        t.installed
    );
    assert_eq!(t.count, 3);
}
