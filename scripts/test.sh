#!/usr/bin/env bash
# The README's test command, and exactly what CI runs (.ci/run).
#
# Installs what the tests need when it is missing (Debian packages, rustup components,
# cargo tools), then runs the quality gates: rustfmt, clippy -D warnings, the whole test
# suite under nextest (sandbox tests included: they need root), and short fuzz runs.
#
# Build artefacts and sandbox base images are cached outside the repository:
#   VIGO_CACHE (default /var/cache/vigo)
#     build/<toolchain-hash>/   cargo target dir, keyed by the rustc version
#     testkit/                  Debian base roots, keyed by their recipe hash
# Cargo's own fingerprints invalidate stale build artefacts; the testkit rebuilds a
# base whose recipe changed.
set -euo pipefail

cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: the sandbox tests need root (overlayfs, namespaces, nspawn)" >&2
    exit 1
  fi
}
need_root

# ---------------------------------------------------------------- host packages
pkgs=(debootstrap systemd-container zstd iproute2 util-linux ca-certificates openssl rpm python3 postgresql ansible-core ansible)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- Rust toolchain
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
if ! command -v cargo-nextest >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
toolchain_key=$(rustc -Vv | sha256sum | cut -c1-16)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$toolchain_key}
export VIGO_TESTKIT_CACHE=${VIGO_TESTKIT_CACHE:-$VIGO_CACHE/testkit}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
mkdir -p "$CARGO_TARGET_DIR" "$VIGO_TESTKIT_CACHE"

# ---------------------------------------------------------------- gates
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no second TLS provider (aws-lc-rs) in the tree"
if cargo tree --workspace -i aws-lc-rs >/dev/null 2>&1; then
  echo "aws-lc-rs is in the dependency tree; rustls must use ring only" >&2
  exit 1
fi

step "tests (nextest)"
cargo nextest run --workspace --locked --no-fail-fast

step "doc tests (nextest does not run them)"
cargo test --workspace --locked --doc

if [ -d fuzz ] && [ -f fuzz/Cargo.toml ]; then
  step "fuzz (short runs)"
  scripts/fuzz.sh "${VIGO_FUZZ_SECONDS:-60}"
fi

step "all gates passed"
