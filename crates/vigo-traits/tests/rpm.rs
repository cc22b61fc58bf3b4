//! The `packages` collector reads a real rpm database (made here with Debian's own `rpm`
//! and `rpmbuild`) exactly as `rpm -qa` does, without a subprocess or an SQLite library.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use vigo_traits::{Ctx, all, run};

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
    let top = root.join("build");
    let db = root.join("var/lib/rpm");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    sh(root, &format!("rpm --dbpath {} --initdb", db.display()));
    for i in 0..n {
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
    sh(
        root,
        &format!(
            "rpm --dbpath {} -i --justdb --nodeps --noscripts --ignorearch --ignoreos {}/RPMS/noarch/*.rpm 2>/dev/null",
            db.display(),
            top.display()
        ),
    );
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

    let packages = all()
        .into_iter()
        .filter(|c| c.name == "packages")
        .collect::<Vec<_>>();
    let report = run(&packages, &Ctx::with_root(tmp.path()));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let t = &report.values["packages"];
    assert_eq!(t["manager"], "rpm");
    let got: Vec<(String, String)> = t["installed"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(t["count"], Value::from(40));
}
