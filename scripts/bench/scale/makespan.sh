#!/bin/sh
# makespan.sh — 10,000 simulated trials of 1 s each on 64 worker slots
# (WORKERS worker processes × SLOTS slots, default 4 × 16), one coordinator,
# all on this machine over loopback: the makespan against the ideal
# 10,000 · 1 s / 64 = 156.25 s. About 3 minutes.
#
#	scripts/bench/scale/makespan.sh
#	WORKERS=8 SLOTS=8 scripts/bench/scale/makespan.sh
#
# Environment: WORKERS (4), SLOTS (16), TRIAL (1s, the simulated duration
# of every trial), OUT (/tmp/flatsweep-scale).
set -eu
cd "$(dirname "$0")/../../.."
WORKERS=${WORKERS:-4}
SLOTS=${SLOTS:-16}
TRIAL=${TRIAL:-1s}
OUT=${OUT:-/tmp/flatsweep-scale}
mkdir -p "$OUT"
go build -o "$OUT/flatsweep" ./cmd/flatsweep
go run ./scripts/bench/scale/simrun -bin "$OUT/flatsweep" -sweep scripts/bench/scale/uniform-10k.yaml \
	-workers "$WORKERS" -slots "$SLOTS" -simulate "$TRIAL" -nominal "$TRIAL" -out "$OUT/makespan"
