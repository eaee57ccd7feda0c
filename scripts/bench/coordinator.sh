#!/bin/sh
# coordinator.sh — the coordinator benchmarks of coordinator/bench_test.go,
# repeated and summarized with benchstat, optionally side by side with
# another revision.
#
#	scripts/bench/coordinator.sh                      # this checkout, ROUNDS times
#	BASE=8d34cbf scripts/bench/coordinator.sh         # and revision 8d34cbf, alternately
#	FLOOR=0 scripts/bench/coordinator.sh              # Go's default GC pacing (no heap floor)
#	NOFLOOR=1 scripts/bench/coordinator.sh            # with and without the heap floor, alternately
#	BENCH='LeaseCyclePaced$' ROUNDS=10 scripts/bench/coordinator.sh
#
# Each round runs every benchmark matching BENCH once, in a process of its
# own, with the iteration counts of run below, so that ROUNDS rounds give
# ROUNDS samples of each
# metric (cycles/s, p50/p99 acquire latency, CPU µs per cycle, ns/op) taken
# at different moments: on a shared machine the spread between rounds is
# the honest error bar. With BASE, the same benchmarks are built from that
# revision (in a temporary git worktree) and the two binaries alternate
# within each round; benchstat then prints both columns and their ratio.
# With NOFLOOR=1, this checkout's benchmarks also run with Go's default GC
# pacing (-heap-floor-mib 0) in each round, as a column of their own.
#
# Environment: ROUNDS (5), BENCH (a regular expression over benchmark names;
# default all of them), BASE (none), NOFLOOR (unset),
# FLOOR (the heap floor in MiB for this checkout's benchmarks; default: that
# of `flatsweep coordinator`), OUT (/tmp/flatsweep-coord-bench),
# BENCHSTAT (golang.org/x/perf/cmd/benchstat, run with `go run` at a pinned
# version).
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
BENCH=${BENCH:-.}
OUT=${OUT:-/tmp/flatsweep-coord-bench}
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}
mkdir -p "$OUT"
rm -f "$OUT/new.txt" "$OUT/base.txt" "$OUT/nofloor.txt"

# run runs, one process each, the benchmarks of a test binary that BENCH
# selects, with their iteration counts: 100,000 lease cycles (20 s when
# paced; long enough for the heap to reach its floor and be reused, as in a
# coordinator that has run for a while), one 1M-trial submission, two 100k
# ones, ten grouped queries.
run() { # binary output-file [flags...]
	bin=$1 out=$2
	shift 2
	for name in $("$bin" -test.list '^Benchmark' | grep -E "$BENCH"); do
		case $name in
		BenchmarkLeaseCycle*) n=100000x ;;
		BenchmarkSubmit1M) n=1x ;;
		BenchmarkSubmit) n=2x ;;
		*) n=10x ;;
		esac
		"$bin" -test.run '^$' -test.bench "^$name\$" -test.benchtime "$n" "$@" 2>&1 |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$out" || true
	done
}

echo "== building $(git rev-parse --short HEAD) (this checkout)"
go test -c -o "$OUT/new.test" ./coordinator
if [ -n "${BASE:-}" ]; then
	echo "== building $BASE"
	wt="$OUT/base-worktree"
	git worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
	git worktree add --detach -q "$wt" "$BASE"
	(cd "$wt" && go test -c -o "$OUT/base.test" ./coordinator)
	git worktree remove --force "$wt"
fi
floor=
[ -n "${FLOOR:-}" ] && floor="-heap-floor-mib $FLOOR"

cd coordinator # the benchmarks run where `go test` would run them
i=1
while [ "$i" -le "$ROUNDS" ]; do
	echo "== round $i of $ROUNDS"
	# shellcheck disable=SC2086 # $floor is flags or nothing
	run "$OUT/new.test" "$OUT/new.txt" $floor
	[ -n "${NOFLOOR:-}" ] && run "$OUT/new.test" "$OUT/nofloor.txt" -heap-floor-mib 0
	[ -n "${BASE:-}" ] && run "$OUT/base.test" "$OUT/base.txt"
	i=$((i + 1))
done
cd ..

echo "== results ($OUT)"
files=
[ -n "${BASE:-}" ] && files="$OUT/base.txt"
files="$files $OUT/new.txt"
[ -n "${NOFLOOR:-}" ] && files="$files $OUT/nofloor.txt"
# shellcheck disable=SC2086 # one word per file
go run "$BENCHSTAT" $files
