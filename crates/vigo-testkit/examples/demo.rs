//! The main-job demo (`scripts/demo.sh`): the agent converging a disposable Debian root.
//!
//! Usage: `demo PATH_TO_VIGO [STACKS_DIR]`. Creates a sandbox, binds the agent in, runs a
//! short convergence story (packages, a file, drift, dry-run, repair, snapshots, a user, a
//! cron job), then — given a stacks tree — copies it in and converges it masterless with
//! `vigo apply`; prints every command with its output, and tears the sandbox down, proving
//! nothing is left behind.

use std::path::Path;
use std::process::ExitCode;

use vigo_testkit::SandboxRoot;

const STEPS: &[(&str, &str)] = &[
    (
        "The agent inside a fresh Debian root",
        "vigo version && vigo status",
    ),
    (
        "Preview: install tree and less (dry-run changes nothing)",
        "vigo resource package web-tools --attrs '{\"package\": \"tree, less\", \"state\": \"present\", \"flags\": \"--no-install-recommends\"}' --dry-run; dpkg-query -W tree 2>&1 | tail -1",
    ),
    (
        "Converge: one apt-get call for both packages",
        "vigo resource package web-tools --attrs '{\"package\": \"tree, less\", \"state\": \"present\", \"flags\": \"--no-install-recommends\"}' && tree --version",
    ),
    (
        "A managed file: created, then a second run is a no-op",
        "A='{\"target_path\": \"/etc/motd\", \"content\": \"Managed by Vigo.\\n\", \"mode\": \"0644\", \"state\": \"present\"}'; vigo resource file motd --attrs \"$A\"; vigo resource file motd --attrs \"$A\"; cat /etc/motd",
    ),
    (
        "Drift: someone edits it; dry-run reports, the real run repairs",
        "A='{\"target_path\": \"/etc/motd\", \"content\": \"Managed by Vigo.\\n\", \"mode\": \"0644\", \"state\": \"present\"}'; echo 'hand edit' > /etc/motd; vigo resource file motd --attrs \"$A\" --dry-run; cat /etc/motd; vigo resource file motd --attrs \"$A\"; cat /etc/motd",
    ),
    (
        "The overwritten content was snapshotted first",
        "vigo snapshots list /etc/motd",
    ),
    (
        "A user with a SHA-512-crypt password and a cron job",
        "vigo resource user alice --attrs '{\"username\": \"alice\", \"shell\": \"/bin/bash\", \"password\": \"s3cret\", \"groups\": \"adm\", \"state\": \"present\"}' && getent passwd alice && id alice; vigo resource cron backup --attrs '{\"command\": \"/usr/local/bin/backup\", \"schedule\": \"@daily\", \"state\": \"present\"}' && cat /etc/cron.d/backup",
    ),
    (
        "Guardrails: the agent refuses to remove itself",
        "vigo resource file self --attrs '{\"target_path\": \"/usr/local/sbin/vigo\", \"state\": \"absent\"}'; echo \"exit code $?\"",
    ),
];

/// The masterless part, on the example stack copied to /srv/stacks.
const STACK_STEPS: &[(&str, &str)] = &[
    (
        "Masterless: the example stack, previewed for a production web server",
        "vigo apply /srv/stacks --hostname web-01.prod.example.net --dry-run",
    ),
    (
        "Converge its baseline configcrate (packages, /etc/motd from a template)",
        "vigo apply /srv/stacks --hostname web-01.prod.example.net --configcrate baseline; cat /etc/motd",
    ),
    (
        "Again: nothing to do",
        "vigo apply /srv/stacks --hostname web-01.prod.example.net --configcrate baseline",
    ),
];

/// Copies the files under `from` into the sandbox at `to`.
fn copy_tree(root: &SandboxRoot, from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(root.host_path(&target))?;
            copy_tree(root, &entry.path(), &target)?;
        } else {
            root.write_file(&target, std::fs::read(entry.path())?)
                .map_err(std::io::Error::other)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(vigo) = std::env::args().nth(1) else {
        eprintln!("usage: demo PATH_TO_VIGO");
        return ExitCode::from(2);
    };
    let root = match SandboxRoot::builder()
        .hostname("demo-envoy")
        .with_binary(&vigo, "/usr/local/sbin/vigo")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: cannot create the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut steps: Vec<(&str, &str)> = STEPS.to_vec();
    if let Some(stacks) = std::env::args().nth(2) {
        let copied = std::fs::create_dir_all(root.host_path("/srv/stacks"))
            .and_then(|()| copy_tree(&root, Path::new(&stacks), Path::new("/srv/stacks")));
        if let Err(e) = copied {
            eprintln!("demo: cannot copy {stacks} into the sandbox: {e}");
            return ExitCode::FAILURE;
        }
        steps.extend_from_slice(STACK_STEPS);
    }
    for (title, cmd) in steps {
        println!("\n\x1b[1m== {title}\x1b[0m");
        match root.run(&format!("{{ {cmd}; }} 2>&1")) {
            Ok(out) => print!("{}", out.stdout),
            Err(e) => {
                eprintln!("demo: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let footprint = root.footprint().clone();
    println!("\n\x1b[1m== Tearing the sandbox down\x1b[0m");
    if let Err(e) = root.close() {
        eprintln!("demo: teardown: {e}");
        return ExitCode::FAILURE;
    }
    let left = footprint.leftovers();
    if left.is_empty() {
        println!("nothing left behind on the host");
        ExitCode::SUCCESS
    } else {
        eprintln!("demo: left behind: {left:?}");
        ExitCode::FAILURE
    }
}
