#!/usr/bin/env bash
# Benchmark: one `vigosrv` on loopback under simulated envoys (the `loadgen` example of
# vigo-server: real mTLS with one client certificate and one HTTP/2 connection per envoy,
# every request signed with the envoy's ed25519 key), first on SQLite, then on PostgreSQL.
# Targets (issue "server load"): ≥ 5,000 no-change check-ins/s with p99 ≤ 20 ms; ≥ 1,000
# check-ins with a 20-resource ReportResult/s; server RSS ≤ 50 KB per enrolled envoy with
# 100,000 enrolled envoys that all checked in once.
#
# Per backend: N envoys (default 100,000) are enrolled with `loadgen enroll` *before* the
# server starts (a bench-only path: it writes the server's store with certificates signed
# by the server's CA from the data dir; see examples/loadgen.rs), the server starts and
# loads them, every envoy checks in once on its own connection (`loadgen sweep`, then
# VmRSS), then K envoys loop no-change check-ins, then check-in + report cycles.
#
# Installs postgresql from Debian when missing. Run as root (PostgreSQL runs as `nobody`).
# Everything lives in one temp dir, removed at the end; vigosrv and postgres are stopped by
# their own PIDs. Run it on an otherwise quiet machine: generator and server share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}           # enrolled envoys
K=${K:-64}               # concurrent envoys (connections) in the throughput runs
WARMUP=${WARMUP:-5}      # seconds, not recorded
DURATION=${DURATION:-20} # seconds, recorded
SWEEP=${SWEEP:-64}       # envoys checking in at once in the sweep
BACKENDS=${BACKENDS:-"sqlite postgres"}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

VIGO_CACHE=${VIGO_CACHE:-/var/cache/vigo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGO_CACHE/build/$(rustc -Vv | sha256sum | cut -c1-16)}
cargo build --release --locked -p vigo-server --bin vigosrv --example loadgen >/dev/null 2>&1 \
  || cargo build --release --locked -p vigo-server --bin vigosrv --example loadgen
vigosrv=$CARGO_TARGET_DIR/release/vigosrv
loadgen=$CARGO_TARGET_DIR/release/examples/loadgen

work=$(mktemp -d /tmp/vigo-bench-server.XXXXXX)
chmod 0755 "$work" # postgres (as nobody) lives below
srv_pid=
pg_pid=
cleanup() {
  if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; fi
  if [ -n "$pg_pid" ]; then kill -INT "$pg_pid" 2>/dev/null || true; wait "$pg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" # one descriptor per connection, on both sides

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
rss() { awk '/^VmRSS:/ {printf "%.1f MB", $2 / 1024}' "/proc/$1/status"; }

# The stack: every bench envoy gets one configcrate of 20 files (the report mode reports
# 20 results, as a run of this bundle would).
write_stacks() {
  mkdir -p "$1/stacks/configcrates"
  printf 'envoys:\n  - match: "bench-*"\n    configcrates: [bench]\n' >"$1/stacks/envoys.vgo"
  {
    printf 'configcrate: bench\nresources:\n'
    for i in $(seq -w 0 19); do
      printf '  - name: f%s\n    type: file\n    target_path: /var/lib/bench/f%s\n    content: "file %s of the server benchmark\\n"\n    mode: "0644"\n    state: present\n' "$i" "$i" "$i"
    done
  } >"$1/stacks/configcrates/bench.vgo"
}

# A throwaway PostgreSQL cluster, as crates/vigo-server/tests/store.rs starts it.
start_postgres() {
  local dir=$work/pg port
  mkdir -p "$dir"
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown nobody: "$dir"
    as=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
  fi
  "${as[@]}" "$pg_bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync --no-instructions >/dev/null
  port=$(free_port)
  "${as[@]}" "$pg_bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories= -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=200 >"$dir/log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 300); do
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && break
    sleep 0.1
  done
  "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE DATABASE vigo' >/dev/null
  pg_url="postgres://postgres@127.0.0.1:$port/vigo"
}

stop_postgres() {
  kill -INT "$pg_pid"; wait "$pg_pid" 2>/dev/null || true; pg_pid=
}

bench_backend() {
  local backend=$1 dir=$work/$1 grpc api
  mkdir -p "$dir"
  write_stacks "$dir"
  grpc=$(free_port); api=$(free_port)
  {
    printf 'server:\n  grpc_listen: "127.0.0.1:%s"\n  api_listen: "127.0.0.1:%s"\n  hostname: localhost\n' "$grpc" "$api"
    printf 'checkin:\n  interval: 90s\n'
    if [ "$backend" = postgres ]; then
      printf 'database:\n  driver: postgres\n  url: "%s"\n' "$pg_url"
    fi
  } >"$dir/server.yaml"
  local cfg=(--config "$dir/server.yaml")

  echo "== $backend: enroll $N envoys (bench-only path: store + CA, server stopped)"
  "$loadgen" "${cfg[@]}" enroll --count "$N" --out "$dir/creds.jsonl" 2>/dev/null

  (cd "$dir" && RUST_LOG=warn exec "$vigosrv" "${cfg[@]}" serve >"$dir/server.log" 2>&1) &
  srv_pid=$!
  local started=$SECONDS
  until curl -fsS --max-time 2 --cacert "$dir/tls/ca" "https://127.0.0.1:$api/api/v1/health" >/dev/null 2>&1; do
    kill -0 "$srv_pid" 2>/dev/null || { cat "$dir/server.log"; exit 1; }
    [ $((SECONDS - started)) -lt 120 ] || { echo "vigosrv did not become healthy"; cat "$dir/server.log"; exit 1; }
    sleep 0.2
  done
  echo "vigosrv up in $((SECONDS - started)) s with $N envoys in its fleet index, RSS $(rss "$srv_pid")"

  echo "== $backend: every envoy checks in once, then the server's RSS"
  "$loadgen" "${cfg[@]}" sweep --creds "$dir/creds.jsonl" --concurrency "$SWEEP" --server-pid "$srv_pid" 2>/dev/null

  echo "== $backend: $K envoys, no-change check-ins"
  "$loadgen" "${cfg[@]}" run --creds "$dir/creds.jsonl" --mode no-change --envoys "$K" \
    --warmup "$WARMUP" --duration "$DURATION" 2>&1 | grep -v connected
  echo "== $backend: $K envoys, check-in + ReportResult (20 resources) cycles"
  "$loadgen" "${cfg[@]}" run --creds "$dir/creds.jsonl" --mode report --envoys "$K" \
    --warmup "$WARMUP" --duration "$DURATION" 2>&1 | grep -v connected
  echo "server RSS after the runs: $(rss "$srv_pid")"

  kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=
}

echo "vigosrv server load benchmark: $(nproc) cores, N=$N K=$K warm-up ${WARMUP}s window ${DURATION}s"
for backend in $BACKENDS; do
  if [ "$backend" = postgres ]; then
    start_postgres
    echo "PostgreSQL $("$pg_bin/postgres" -V | awk '{print $3}') on 127.0.0.1 (fsync=off, synchronous_commit=off, as tests/store.rs)"
    bench_backend postgres
    stop_postgres
  else
    bench_backend sqlite
  fi
done
