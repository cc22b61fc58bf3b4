#!/usr/bin/env bash
# Benchmark: masterless convergence of N `file` resources (default 1,000) — the first run
# (every file created) and the no-op run (everything in sync) — for `vigo apply`, `cf-agent`
# (Debian cfengine3) and `puppet apply` (Debian puppet), same files, same machine, same run.
# Targets (issue "engine"): vigo no-op ≤ 100 ms and ≤ 20 MB peak RSS, first ≤ 1 s, no-op
# ≥ 15× faster than the fastest peer.
#
# Targets (issue 13): the first run at most half of cf-agent's time, the no-op ≤ 6 ms.
# vigo and cf-agent run side by side in one hyperfine run for each measurement, so their
# ratio holds on a busy machine. VIGO_BASE=/path/to/an/older/vigo adds that binary to
# the same runs (before/after figures); PUPPET=0 skips puppet (slow).
#
# Installs its peers from Debian when missing (cfengine3, puppet, hyperfine, time). Run as
# root. Everything is written under one temp dir, removed at the end; the tools' own state
# (/var/lib/cfengine3, puppet's cache) is what they keep anyway; vigo's
# lock and apply cache go to \$VIGO_STATE_ROOT under the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
missing=()
for p in cfengine3 puppet hyperfine time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$(rustc -Vv | sha256sum | cut -c1-16)}
# VIGO_BIN=/path/to/vigo measures that binary instead of building this checkout.
vigo=${VIGO_BIN:-}
if [ -z "$vigo" ]; then
  cargo build --release --locked -p vigo-agent >/dev/null 2>&1
  vigo=$CARGO_TARGET_DIR/release/vigo
fi

# BENCH_TMP: where the files are written (default /tmp; e.g. a journaled ext4 mount).
work=$(mktemp -d "${BENCH_TMP:-/tmp}/vigo-bench-apply.XXXXXX")
# vigo's lock and apply cache live in the bench's own state root, not /var/lib/vigo.
export VIGO_STATE_ROOT=$work/state
mkdir -p "$VIGO_STATE_ROOT"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/stacks/configcrates" "$work/snapshots"

# The same N files for each tool: path, content and mode 0644.
python3 - "$work" "$N" <<'EOF'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/stacks/envoys.vgo", "w") as f:
    f.write('envoys:\n  - match: "*"\n    configcrates: [bench]\n')
with open(f"{work}/stacks/configcrates/bench.vgo", "w") as f:
    f.write(f"configcrate: bench\nresources:\n  - name: dir\n    type: directory\n    target_path: {work}/vigo\n    state: present\n")
    for i in range(n):
        f.write(f'  - name: f{i:04}\n    type: file\n    target_path: {work}/vigo/f{i:04}\n'
                f'    content: "file {i} managed by the benchmark\\n"\n    mode: "0644"\n    state: present\n')
with open(f"{work}/bench.pp", "w") as f:
    f.write(f"file {{ '{work}/puppet': ensure => directory }}\n")
    for i in range(n):
        f.write(f"file {{ '{work}/puppet/f{i:04}': ensure => file, content => \"file {i} managed by the benchmark\\n\", mode => '0644' }}\n")
with open(f"{work}/bench.cf", "w") as f:
    f.write('body common control { bundlesequence => { "main" }; }\n')
    f.write('body perms p644 { mode => "644"; rxdirs => "false"; }\n')
    f.write('bundle agent main {\n  files:\n')
    for i in range(n):
        f.write(f'    "{work}/cf/f{i:04}" create => "true", perms => p644, content => "file {i} managed by the benchmark$(const.n)";\n')
    f.write("}\n")
EOF
chmod 0600 "$work/bench.cf"
[ -e /var/lib/cfengine3/ppkeys/localhost.pub ] || cf-key >/dev/null 2>&1 || true

vigo_cmd="$vigo --snapshot-dir $work/snapshots apply $work/stacks --hostname bench.example.net"
cf_cmd="cf-agent -K -f $work/bench.cf"
pp_cmd="puppet apply --color=false $work/bench.pp"
# The base binary writes the same files (each first run starts from an empty directory)
# and shares the state root; it keeps no stat cache there.
base_cmd=""
[ -n "${VIGO_BASE:-}" ] && base_cmd="$VIGO_BASE --snapshot-dir $work/snapshots apply $work/stacks --hostname bench.example.net"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== $N files: first run (every file created), wall time, side by side"
first=(--prepare "rm -rf $work/vigo" "$vigo_cmd" --prepare "rm -rf $work/cf" "$cf_cmd")
[ -n "$base_cmd" ] && first+=(--prepare "rm -rf $work/vigo" "$base_cmd")
hyperfine -N --runs 10 "${first[@]}" 2>/dev/null
if [ "${PUPPET:-1}" != 0 ]; then
  hyperfine -N --runs 3 --prepare "rm -rf $work/puppet" "$pp_cmd" 2>/dev/null
fi

echo "== $N files: no-op run (everything in sync), wall time"
$vigo_cmd 2>/dev/null; $cf_cmd >/dev/null 2>&1
[ "${PUPPET:-1}" != 0 ] && $pp_cmd >/dev/null 2>&1
# A no-op must change nothing: count the results that are not `none`.
changed=$($vigo_cmd --json 2>/dev/null | python3 -c 'import json,sys; print(sum(r["action"]!="none" for r in json.load(sys.stdin)["results"]))')
echo "vigo no-op run: $changed of $N resources not 'none'"
# The stat cache records a file only once its times are older than the racy margin (2 s).
sleep 3
noop=("$vigo_cmd" "$cf_cmd")
[ -n "$base_cmd" ] && noop+=("$base_cmd")
hyperfine -N --warmup 3 --runs 30 "${noop[@]}" 2>/dev/null
if [ "${PUPPET:-1}" != 0 ]; then
  hyperfine -N --warmup 1 --runs 5 "$pp_cmd" 2>/dev/null
fi
echo "machine load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== peak RSS, no-op run"
cmds=("$vigo_cmd" "$cf_cmd")
[ "${PUPPET:-1}" != 0 ] && cmds+=("$pp_cmd")
for cmd in "${cmds[@]}"; do
  /usr/bin/time -o "$work/rss" -f "%M" $cmd >/dev/null 2>&1 || true
  echo "${cmd%% *}: $(tail -1 "$work/rss") KB"
done
