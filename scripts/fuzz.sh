#!/usr/bin/env bash
# Short fuzz runs of every cargo-fuzz target under fuzz/ (stable toolchain, no sanitizer).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# A crash makes this script fail and leaves the input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=$VIGO_CACHE/fuzz/$(rustc -Vv | sha256sum | cut -c1-16)
mkdir -p "$CARGO_TARGET_DIR"
targets=$(cargo fuzz list)
[ -n "$targets" ] || { echo "no fuzz targets under fuzz/" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $targets; do
  echo "==> fuzz $t for ${secs}s"
  mkdir -p "fuzz/corpus/$t"
  rc=0
  cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz target $t failed (exit $rc); the crashing input is under fuzz/artifacts/$t" >&2
    exit 1
  fi
done
