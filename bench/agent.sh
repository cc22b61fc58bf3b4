#!/usr/bin/env bash
# Benchmark: the agent's lifecycle against a real vigosrv (release builds): agent CPU of
# one no-change check-in plus a no-op convergence of the example stack, and the daemon's
# idle RSS. Targets (issue "agent lifecycle"): ≤ 50 ms of agent CPU, ≤ 15 MB idle RSS.
#
# The server runs on loopback with a copy of examples/stacks in a temp dir; the agent runs
# enrolled inside a disposable Debian root (vigo-testkit). Run as root; nothing is left
# behind but the caches under /var/cache/vigo.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$(rustc -Vv | sha256sum | cut -c1-16)}
export VIGO_TESTKIT_CACHE=${VIGO_TESTKIT_CACHE:-$VIGO_CACHE/testkit}
for p in debootstrap curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done
cargo build --release --locked -p vigo-agent -p vigo-server >/dev/null 2>&1
cargo build --release --locked -p vigo-testkit --example agent_bench >/dev/null 2>&1
bin=$CARGO_TARGET_DIR/release
"$bin/examples/agent_bench" "$bin/vigo" "$bin/vigosrv" examples/stacks
