//! Network namespaces for tests that cross a network: one namespace with loopback up, or
//! a pair joined by a veth link, or a star of namespaces around a bridge, with 10.x test
//! addresses that exist only inside them.
//!
//! Only these namespaces and loopback are ever targets of test traffic. `ip netns add`
//! leaves a bind mount under `/run/netns`; `ip netns del` (on drop) removes it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use vigo_exec::command::CommandSpec;

use crate::Error;
use crate::footprint::Footprint;
use crate::output::{Output, must, run};

static COUNTER: AtomicU32 = AtomicU32::new(0);

const IP_TIMEOUT: Duration = Duration::from_secs(30);

/// One network namespace, loopback up; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
    live: bool,
}

impl Netns {
    /// Creates `vigo-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Result<Self, Error> {
        let name = format!(
            "vigo-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        must(
            "creating a network namespace",
            &["ip", "netns", "add", &name],
            IP_TIMEOUT,
        )?;
        let ns = Netns { name, live: true };
        must(
            "bringing loopback up",
            &["ip", "-n", &ns.name, "link", "set", "lo", "up"],
            IP_TIMEOUT,
        )?;
        Ok(ns)
    }

    /// The namespace's name (`/run/netns/<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's path, for `setns` or `systemd-nspawn --network-namespace-path`.
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Runs `sh -c cmd` in the namespace (on the host's filesystem).
    pub fn run(&self, cmd: &str) -> Result<Output, Error> {
        run(
            &CommandSpec::new(["ip", "netns", "exec", &self.name, "/bin/sh", "-c", cmd])
                .timeout(Duration::from_secs(120)),
        )
    }

    /// What this namespace created on the host.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            netns: vec![self.name.clone()],
            ..Footprint::default()
        }
    }

    /// Deletes the namespace, reporting failure.
    pub fn close(mut self) -> Result<(), Error> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), Error> {
        if !std::mem::take(&mut self.live) {
            return Ok(());
        }
        must(
            "deleting a network namespace",
            &["ip", "netns", "del", &self.name],
            IP_TIMEOUT,
        )
        .map(drop)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("vigo-testkit: {e}");
        }
    }
}

/// Which end of a [`NetnsPair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The first namespace (address `…​.1`).
    A,
    /// The second namespace (address `…​.2`).
    B,
}

/// Two namespaces joined by a veth link: A is `10.213.X.1/30`, B is `10.213.X.2/30`.
#[derive(Debug)]
pub struct NetnsPair {
    a: Netns,
    b: Netns,
    addr_a: String,
    addr_b: String,
}

impl NetnsPair {
    /// Creates both namespaces and the link between them.
    pub fn new() -> Result<Self, Error> {
        let a = Netns::new("a")?;
        let b = Netns::new("b")?;
        // A /30 per pair, from the pid and a counter, so parallel tests never collide.
        let n = (std::process::id() * 7 + COUNTER.fetch_add(1, Ordering::Relaxed)) % 16_384;
        let (third, fourth) = (n / 64, (n % 64) * 4);
        let addr_a = format!("10.213.{third}.{}", fourth + 1);
        let addr_b = format!("10.213.{third}.{}", fourth + 2);
        let tag = COUNTER.fetch_add(1, Ordering::Relaxed);
        let (va, vb) = (
            format!("vga{}x{tag}", std::process::id() % 100_000),
            format!("vgb{}x{tag}", std::process::id() % 100_000),
        );
        must(
            "creating a veth pair",
            &[
                "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
            ],
            IP_TIMEOUT,
        )?;
        must(
            "moving the veth end",
            &["ip", "link", "set", &va, "netns", a.name()],
            IP_TIMEOUT,
        )?;
        must(
            "moving the veth end",
            &["ip", "link", "set", &vb, "netns", b.name()],
            IP_TIMEOUT,
        )?;
        for (ns, dev, addr) in [(&a, &va, &addr_a), (&b, &vb, &addr_b)] {
            must(
                "addressing the veth",
                &[
                    "ip",
                    "-n",
                    ns.name(),
                    "addr",
                    "add",
                    &format!("{addr}/30"),
                    "dev",
                    dev,
                ],
                IP_TIMEOUT,
            )?;
            must(
                "bringing the veth up",
                &["ip", "-n", ns.name(), "link", "set", dev, "up"],
                IP_TIMEOUT,
            )?;
        }
        Ok(NetnsPair {
            a,
            b,
            addr_a,
            addr_b,
        })
    }

    /// One side's namespace.
    pub fn netns(&self, side: Side) -> &Netns {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// One side's address.
    pub fn addr(&self, side: Side) -> &str {
        match side {
            Side::A => &self.addr_a,
            Side::B => &self.addr_b,
        }
    }

    /// Runs `sh -c cmd` in one side's namespace.
    pub fn run_in(&self, side: Side, cmd: &str) -> Result<Output, Error> {
        self.netns(side).run(cmd)
    }

    /// What the pair created on the host (the veth goes with its namespaces).
    pub fn footprint(&self) -> Footprint {
        let mut f = self.a.footprint();
        f.extend(&self.b.footprint());
        f
    }

    /// Deletes both namespaces, reporting failure.
    pub fn close(self) -> Result<(), Error> {
        let NetnsPair { a, b, .. } = self;
        let ra = a.close();
        b.close()?;
        ra
    }
}

/// A hub namespace with a bridge, and member namespaces each joined to it by a veth:
/// a small LAN (`10.214.X.0/24`; the hub is `.1`, member `i` is `.(i + 2)`) where a server
/// in the hub is reachable from every member and the members are isolated from the host.
#[derive(Debug)]
pub struct NetnsStar {
    hub: Netns,
    hub_addr: String,
    members: Vec<(Netns, String)>,
}

impl NetnsStar {
    /// Creates the hub and `members` member namespaces.
    pub fn new(members: usize) -> Result<Self, Error> {
        let members_max = 200;
        if members > members_max {
            return Err(Error::Other(format!(
                "a star has at most {members_max} members"
            )));
        }
        let hub = Netns::new("hub")?;
        let net = (std::process::id() * 7 + COUNTER.fetch_add(1, Ordering::Relaxed)) % 256;
        let hub_addr = format!("10.214.{net}.1");
        let ipn = |ns: &Netns, args: &[&str]| -> Result<(), Error> {
            let mut argv = vec!["ip", "-n", ns.name()];
            argv.extend_from_slice(args);
            must("configuring the test LAN", &argv, IP_TIMEOUT).map(drop)
        };
        ipn(&hub, &["link", "add", "br0", "type", "bridge"])?;
        ipn(
            &hub,
            &["addr", "add", &format!("{hub_addr}/24"), "dev", "br0"],
        )?;
        ipn(&hub, &["link", "set", "br0", "up"])?;
        let mut star = NetnsStar {
            hub,
            hub_addr,
            members: Vec::new(),
        };
        for i in 0..members {
            let ns = Netns::new("m")?;
            let tag = COUNTER.fetch_add(1, Ordering::Relaxed) % 10_000;
            let pid = std::process::id() % 10_000;
            let (vh, vm) = (format!("vsh{pid}x{tag}"), format!("vsm{pid}x{tag}"));
            must(
                "creating a veth pair",
                &[
                    "ip", "link", "add", &vh, "type", "veth", "peer", "name", &vm,
                ],
                IP_TIMEOUT,
            )?;
            must(
                "moving the veth end",
                &["ip", "link", "set", &vh, "netns", star.hub.name()],
                IP_TIMEOUT,
            )?;
            must(
                "moving the veth end",
                &["ip", "link", "set", &vm, "netns", ns.name()],
                IP_TIMEOUT,
            )?;
            ipn(&star.hub, &["link", "set", &vh, "master", "br0"])?;
            ipn(&star.hub, &["link", "set", &vh, "up"])?;
            let addr = format!("10.214.{net}.{}", i + 2);
            ipn(&ns, &["addr", "add", &format!("{addr}/24"), "dev", &vm])?;
            ipn(&ns, &["link", "set", &vm, "up"])?;
            star.members.push((ns, addr));
        }
        Ok(star)
    }

    /// The hub's namespace (where a server listens).
    pub fn hub(&self) -> &Netns {
        &self.hub
    }

    /// The hub's address.
    pub fn hub_addr(&self) -> &str {
        &self.hub_addr
    }

    /// Member `i`'s namespace.
    pub fn member(&self, i: usize) -> &Netns {
        &self.members[i].0
    }

    /// Member `i`'s address.
    pub fn member_addr(&self, i: usize) -> &str {
        &self.members[i].1
    }

    /// What the star created on the host (the veths go with their namespaces).
    pub fn footprint(&self) -> Footprint {
        let mut f = self.hub.footprint();
        for (ns, _) in &self.members {
            f.extend(&ns.footprint());
        }
        f
    }

    /// Deletes every namespace, reporting the first failure.
    pub fn close(self) -> Result<(), Error> {
        let NetnsStar { hub, members, .. } = self;
        let mut first = Ok(());
        for (ns, _) in members {
            if let Err(e) = ns.close()
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        hub.close().and(first)
    }
}
