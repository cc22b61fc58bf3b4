#!/usr/bin/env bash
# The README's main-job command: a demo of what Vigo does today.
#
# It installs what it needs, builds the binaries, then shows the agent converging a
# disposable Debian root (packages, files, drift and repair, snapshots, users, cron,
# guardrails), converging the example stack masterless (vigo apply), then the server
# stage: vigosrv on loopback with embedded SQLite and examples/stacks, the sandbox
# enrolled with vigo bootstrap and a one-time token, vigo run over gRPC/mTLS, the results
# through the REST API. It leaves nothing behind but the caches under /var/cache/vigo
# (build artefacts and the Debian base images).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then echo "scripts/demo.sh: run as root" >&2; exit 1; fi
VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$(rustc -Vv | sha256sum | cut -c1-16)}
export VIGO_TESTKIT_CACHE=${VIGO_TESTKIT_CACHE:-$VIGO_CACHE/testkit}
bin=$CARGO_TARGET_DIR/release

missing=()
for p in debootstrap systemd-container iproute2 curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

say "building vigo, vigosrv and vigocli (release)"
cargo build --release --locked -p vigo-agent -p vigo-server -p vigo-cli
cargo build --release --locked -p vigo-testkit --example demo

say "the three binaries"
show "$bin/vigo" version
show "$bin/vigosrv" version
show "$bin/vigocli" version

say "vigocli: validate the example stack and trace how a host resolves, offline"
show "$bin/vigocli" config validate examples/stacks
show "$bin/vigocli" config trace web-01.prod.example.net --stacks examples/stacks

say "the agent in a disposable Debian root: resources, masterless apply, then enrolled with vigosrv (first run builds the base image, ~30 s)"
"$bin/examples/demo" "$bin/vigo" examples/stacks "$bin/vigosrv"

say "what is not built yet says so"
show "$bin/vigo" repo list || true
