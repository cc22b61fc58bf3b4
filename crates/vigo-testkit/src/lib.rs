//! Test-only harness: disposable Debian roots, booted systemd containers and network
//! namespaces, so tests drive real tools without touching the host.
