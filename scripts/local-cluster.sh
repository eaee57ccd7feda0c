#!/usr/bin/env bash
# local-cluster.sh — run a sweep on a coordinator and N worker *processes* on
# this machine (the same processes you would start on several machines).
#
#   scripts/local-cluster.sh [SWEEP.yaml] [WORKERS]
#
# Defaults: sweeps/quickstart.yaml and 2 workers. The database and logs go to
# $OUT (default ./out/local-cluster). Everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

sweep=${1:-sweeps/quickstart.yaml}
workers=${2:-2}
out=${OUT:-out/local-cluster}
addr=${ADDR:-127.0.0.1:7070}
mkdir -p "$out"

make -s build
bin=./bin/flatsweep
name=$(awk '/^name:/ {print $2; exit}' "$sweep")

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

"$bin" coordinator --listen "$addr" --db "$out/flatsweep.db" 2>"$out/coordinator.log" &
pids+=($!)
for i in $(seq 1 "$workers"); do
  "$bin" worker --coordinator "$addr" --name "worker-$i" 2>"$out/worker-$i.log" &
  pids+=($!)
done

for _ in $(seq 100); do # wait until the coordinator answers
  "$bin" status --coordinator "$addr" >/dev/null 2>&1 && break
  sleep 0.1
done
"$bin" submit "$sweep" --coordinator "$addr"
while :; do
  line=$("$bin" status "$name" --coordinator "$addr" | awk -v n="$name" '$1 == n')
  echo "$line"
  read -r _ _ total done _ <<<"$line"
  [ "$total" = "$done" ] && break
  sleep 2
done
"$bin" results "$name" --coordinator "$addr"
echo "database and logs: $out"
