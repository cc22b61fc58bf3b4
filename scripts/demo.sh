#!/usr/bin/env bash
# The README's main-job command: a demo of what Vigo does today.
#
# It installs what it needs, builds the three binaries, then shows each working part.
# Later stages (server with embedded SQLite + an agent enrolled in a disposable sandbox)
# join as they are built; nothing here pretends: a part not built yet is not shown.
# It leaves nothing behind but the build cache under /var/cache/vigo.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then echo "scripts/demo.sh: run as root" >&2; exit 1; fi
VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$(rustc -Vv | sha256sum | cut -c1-16)}
bin=$CARGO_TARGET_DIR/release

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

say "building vigo, vigosrv and vigocli (release)"
cargo build --release --locked -p vigo-agent -p vigo-server -p vigo-cli

say "the three binaries"
show "$bin/vigo" version
show "$bin/vigosrv" version
show "$bin/vigocli" version

say "the agent's command line (the contract of agent-cli-reference.txt)"
show "$bin/vigo" --help
