#!/bin/sh
# footprint.sh — a million-trial sweep in one coordinator: submission time,
# memory and database bytes per trial with the trials pending and with
# their (synthetic) results stored, grouped-query and analysis times, and
# restart time. The results are recorded through the lease core in
# process, not trained (see footprint/main.go). A few minutes; the
# database (about 1–2 GB) goes to DIR.
#
#	scripts/bench/scale/footprint.sh
#	N=100000 ANALYZE=true scripts/bench/scale/footprint.sh
#
# Environment: N (1000000), EPOCHS (10, the curve length of each result),
# ANALYZE (false: AnalyzeSweep too, which takes minutes at 100,000 trials),
# DIR (/tmp/flatsweep-footprint).
set -eu
cd "$(dirname "$0")/../../.."
go run ./scripts/bench/scale/footprint -n "${N:-1000000}" -epochs "${EPOCHS:-10}" -analyze="${ANALYZE:-false}" -dir "${DIR:-/tmp/flatsweep-footprint}"
