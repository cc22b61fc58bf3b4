#!/usr/bin/env bash
# Benchmark: `vigo traits` (all core collectors) against `facter --json`, side by side.
# Targets (issue "Traits"): ≤ 30 ms, ≤ 15 MB peak RSS, ≥ 20× faster than facter.
# Installs its peers from Debian (facter, hyperfine) when missing. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in facter hyperfine time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$(rustc -Vv | sha256sum | cut -c1-16)}
cargo build --release --locked -p vigo-agent >/dev/null 2>&1
vigo=$CARGO_TARGET_DIR/release/vigo
echo "== wall time (hyperfine; facter exits 1 on this VM's /proc/1/environ, hence -i)"
hyperfine -N -i --warmup 3 --runs 20 "facter --json" "$vigo traits" 2>/dev/null
echo "== peak RSS"
/usr/bin/time -f "vigo traits:   %M KB" "$vigo" traits >/dev/null
rss=$(mktemp); /usr/bin/time -o "$rss" -f "facter --json: %M KB" facter --json >/dev/null 2>&1 || true; cat "$rss"; rm -f "$rss"
echo "== per-collector timing (µs)"
"$vigo" traits --timing | python3 -c 'import json,sys; t=json.load(sys.stdin)["_timing"]; print(" ".join(f"{k}={v}" for k,v in sorted(t.items(), key=lambda x:-x[1])))'
