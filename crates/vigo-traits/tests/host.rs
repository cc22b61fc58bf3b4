//! Each collector against the OS's own view of this machine.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use vigo_traits::{Ctx, all, run};

fn traits() -> Value {
    let r = run(&all(), &Ctx::default());
    assert!(r.errors.is_empty(), "collector errors: {:?}", r.errors);
    r.to_json(false)
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn os_matches_os_release_and_uname() {
    let t = traits();
    assert_eq!(t["os"]["distro"], sh(". /etc/os-release; echo $ID"));
    assert_eq!(
        t["os"]["version"],
        sh(". /etc/os-release; echo $VERSION_ID")
    );
    assert_eq!(t["os"]["kernel"], sh("uname -r"));
    assert_eq!(t["os"]["arch_raw"], sh("uname -m"));
    // The family mapping (debian, rhel, suse, ...) is tested on os-release fixtures in
    // collectors::os; on the host, whatever it runs, only that there is one.
    assert!(
        t["os"]["family"].as_str().is_some_and(|f| !f.is_empty()),
        "{}",
        t["os"]
    );
}

#[test]
fn memory_swap_loadavg_uptime_match_procfs() {
    let t = traits();
    let kb = |k: &str| {
        sh(&format!("awk '/^{k}:/ {{print $2}}' /proc/meminfo"))
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    assert_eq!(t["memory"]["total_bytes"], kb("MemTotal"));
    assert_eq!(t["swap"]["total_bytes"], kb("SwapTotal"));
    let up: f64 = sh("cut -d' ' -f1 /proc/uptime").parse().unwrap();
    assert!((t["uptime"]["seconds"].as_f64().unwrap() - up).abs() < 3.0);
    let load15: f64 = sh("cut -d' ' -f3 /proc/loadavg").parse().unwrap();
    assert!((t["loadavg"]["load15"].as_f64().unwrap() - load15).abs() < 0.5);
    assert_eq!(
        t["hardware"]["cpu_count"],
        sh("grep -c ^processor /proc/cpuinfo")
            .parse::<u64>()
            .unwrap()
    );
    assert_eq!(t["hardware"]["memory_mb"], kb("MemTotal") / (1024 * 1024));
}

#[test]
fn a_listener_the_test_opens_is_seen_with_its_pid() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = traits();
    let ports: Vec<u64> = t["ports"]["listening"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(ports.contains(&u64::from(port)), "{port} not in {ports:?}");
    let me = t["listeners"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["port"] == port)
        .expect("listener row")
        .clone();
    assert_eq!(me["pid"], std::process::id());
    assert_eq!(me["bind_address"], "127.0.0.1");
    assert_eq!(me["family"], "ipv4");
}

#[test]
fn users_match_getent() {
    let t = traits();
    let names: BTreeSet<String> = sh("getent passwd | cut -d: -f1")
        .lines()
        .map(str::to_owned)
        .collect();
    let mut seen = BTreeSet::new();
    for class in ["human", "os", "thirdparty"] {
        for u in t["users"][class].as_array().unwrap() {
            let u = u.as_str().unwrap().to_owned();
            assert!(names.contains(&u), "{u} is not in getent passwd");
            seen.insert(u);
        }
    }
    assert!(
        t["users"]["os"]
            .as_array()
            .unwrap()
            .contains(&Value::from("root"))
    );
    let humans =
        sh("getent passwd | awk -F: '$3>=1000 && $3!=65534 && $7!~/(nologin|false)$/ {print $1}'");
    let expected: Vec<&str> = humans.lines().collect();
    let got: Vec<&str> = t["users"]["human"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn packages_match_dpkg_query() {
    let t = traits();
    let listed = sh(
        "dpkg-query -W -f '${db:Status-Status} ${Package} ${Version}\\n' | awk '$1==\"installed\" {print $2\" \"$3}' | sort -u",
    );
    let expected: BTreeSet<(String, String)> = listed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.split(':').next().unwrap().to_owned(), b.to_owned()))
        .collect();
    let got: BTreeSet<(String, String)> = t["packages"]["installed"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(t["packages"]["manager"], "dpkg");
}

#[test]
fn mounts_filesystems_network_and_self() {
    let t = traits();
    let lines = sh("wc -l < /proc/self/mounts").parse::<usize>().unwrap();
    assert!(
        t["mountpoints"]["mounts"]
            .as_array()
            .unwrap()
            .len()
            .abs_diff(lines)
            <= 2
    );
    assert!(t["filesystem"]["/"]["size_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        t["network"]["hostname"],
        sh("cat /proc/sys/kernel/hostname")
    );
    let ips = sh("ip -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | sort -u");
    let mut got: Vec<String> = t["network"]["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let want: Vec<String> = ips.lines().map(str::to_owned).collect();
    assert_eq!(got, want);
    assert_eq!(t["agent_self"]["pid"], std::process::id());
    assert!(t["agent_self"]["rss_bytes"].as_u64().unwrap() > 0);
    assert!(t["host_self"]["fd_max"].as_u64().unwrap() > 0);
    assert!(t["processes"]["count"].as_u64().unwrap() > 1);
    let blocks = sh("ls /sys/block | grep -vE '^(loop|ram|dm-|zram|md|nbd|sr)' | sort");
    let got: Vec<&str> = t["blockdevices"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(got, blocks.lines().collect::<Vec<_>>());
    assert_eq!(
        t["cloud"]["provider"], "none",
        "this machine is not on a cloud the collector knows"
    );
    assert_eq!(t["time"]["year"], sh("date +%Y").parse::<u64>().unwrap());
}
