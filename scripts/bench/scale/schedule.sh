#!/bin/sh
# schedule.sh — the coordinator's longest-predicted-first lease order
# against trial-ID order (unrelated to cost) on a sweep whose simulated
# trial costs differ 100× (varied-1536.yaml: 10 s at B = 8 down to 0.1 s at
# B = 800), each against the lower bound max(longest trial, work / slots).
# The two runs go one after the other, each on a fresh coordinator and
# database, on 64 slots (4 × 16). About 2.5 minutes.
#
#	scripts/bench/scale/schedule.sh
#
# Environment: WORKERS (4), SLOTS (16), PER_UPDATE (10ms, the simulated
# duration of one parameter update), OUT (/tmp/flatsweep-scale).
set -eu
cd "$(dirname "$0")/../../.."
WORKERS=${WORKERS:-4}
SLOTS=${SLOTS:-16}
PER_UPDATE=${PER_UPDATE:-10ms}
OUT=${OUT:-/tmp/flatsweep-scale}
mkdir -p "$OUT"
go build -o "$OUT/flatsweep" ./cmd/flatsweep
go run ./scripts/bench/scale/simrun -bin "$OUT/flatsweep" -sweep scripts/bench/scale/varied-1536.yaml \
	-workers "$WORKERS" -slots "$SLOTS" -per-update "$PER_UPDATE" -order both -out "$OUT/schedule"
