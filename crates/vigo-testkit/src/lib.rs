//! Test-only harness: disposable Debian roots, booted systemd containers and network
//! namespaces, so tests drive the real tools (apt, dpkg, useradd, systemctl) without ever
//! touching the host.
//!
//! ```no_run
//! use vigo_testkit::SandboxRoot;
//!
//! // In an integration test of vigo-agent: env!("CARGO_BIN_EXE_vigo").
//! let vigo = "target/debug/vigo";
//! let root = SandboxRoot::builder().with_binary(vigo, "/usr/local/sbin/vigo").build()?;
//! let out = root.run("apt-get install -y -q tree && tree --version")?;
//! assert_eq!(out.code, Some(0), "{}", out.stderr);
//! assert!(root.upper_dir().join("usr/bin/tree").exists());
//! # Ok::<(), vigo_testkit::Error>(())
//! ```
//!
//! Every fixture tears itself down on drop (and `close`/`shutdown` report errors), and
//! exposes its [`Footprint`] so tests can prove nothing was left behind.

mod base;
mod container;
mod error;
mod footprint;
mod netns;
mod output;
mod ports;
mod sandbox;
mod test_clock;
mod vigosrv;

pub use base::{BaseKind, SUITE, base_root, cache_dir};
pub use container::{ContainerBuilder, SystemdContainer};
pub use error::Error;
pub use footprint::Footprint;
pub use netns::{Netns, NetnsPair, NetnsStar, Side};
pub use output::Output;
pub use ports::{Listeners, RefusedPort};
pub use sandbox::{SandboxBuilder, SandboxRoot};
pub use test_clock::TestClock;
pub use vigosrv::{Listen, Vigosrv, VigosrvOptions, binary_beside};
