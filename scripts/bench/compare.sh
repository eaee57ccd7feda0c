#!/bin/sh
# compare.sh — flatsweep against PyTorch on the reference problem, side by side.
#
# Builds scripts/bench/{gen,flatbench,dgemm} (with -tags openblas when OpenBLAS
# is installed, as the Makefile does), writes the reference weights, data and
# probe vector (gen), checks flatsweep's loss, gradient and Hv against
# PyTorch's double backward (≤ 1e-10 relative, torch_ref.py --check-only),
# measures the machine's OpenBLAS dgemm peak (best call), then lets
# torch_ref.py alternate single PyTorch and flatsweep calls PAIRS times per
# measurement (flatbench -serve) and prints the median rates and the median
# per-pair ratio. See docs/BENCHMARKS.md.
#
# Environment: THREADS (2), PAIRS (15), OUT (/tmp/flatsweep-bench), MNIST
# (data/mnist: the MNIST t10k files), PYTHON (/usr/bin/python3, Debian's python3-torch),
# TAGS (auto: openblas when installed, else empty for gonum), OMP_WAIT_POLICY
# for PyTorch's OpenMP pool (PASSIVE by default: PyTorch's faster setting on a
# 2-core machine, see docs/BENCHMARKS.md). EIGS=1 then also runs
# scripts/bench/eigs.sh (top-5 eigenvalues: Lanczos against PyHessian's power
# iteration, several minutes).
set -eu
cd "$(dirname "$0")/../.."
PAIRS=${PAIRS:-15}
. scripts/bench/common.sh

mkdir -p "$OUT"
for p in gen flatbench; do
	$GO build -tags "$TAGS" -o "$OUT/$p" "./scripts/bench/$p"
done
$GO build -tags "$HAVE_OPENBLAS" -o "$OUT/dgemm" ./scripts/bench/dgemm
"$OUT/gen" -mnist "$MNIST" -out "$OUT"
"$PYTHON" scripts/bench/torch_ref.py --dir "$OUT" --mnist "$MNIST" --threads "$THREADS" --check-only >"$OUT/values.txt"
"$OUT/dgemm" -n 2048 -threads "$THREADS" >"$OUT/dgemm.txt"
"$PYTHON" scripts/bench/torch_ref.py --dir "$OUT" --mnist "$MNIST" --threads "$THREADS" --pairs "$PAIRS" \
	--flatbench "$OUT/flatbench -dir $OUT -threads $THREADS -serve" >"$OUT/pairs.txt"

bench_machine
echo "flatsweep backend: $(grep flatsweep_backend "$OUT/values.txt" | cut -d' ' -f2); $THREADS threads; PyTorch OMP_WAIT_POLICY=$OMP_WAIT_POLICY; $PAIRS alternating pairs per measurement"
grep -E '^(torch_version|relerr|values_ok)' "$OUT/values.txt"
grep -E '^dgemm_(backend|gflops|best_gflops)' "$OUT/dgemm.txt"
awk -v peakfile="$OUT/dgemm.txt" '
BEGIN { while ((getline l < peakfile) > 0) { split(l, f, " "); if (f[1] == "dgemm_best_gflops") peak = f[2] } }
{ v[$1] = $2; if ($1 ~ /_iqr$/) iqr[$1] = $2 "–" $3 }
END {
	printf "%-38s %10s %10s %7s  %-13s %s\n", "median over pairs", "flatsweep", "pytorch", "ratio", "ratio IQR", "flatsweep GFLOP/s (% of peak)"
	row("Hv/s, full: HVP vs double backward", "hvp_full")
	row("Hv/s, cached vs retained graph", "hvp_cached_vs_retained")
	row("Hv/s, cached vs double backward", "hvp_cached_vs_full")
	row("train examples/s, SGD B=128", "train")
}
function row(name, k,   g) {
	g = v["pair_" k "_flat_gflops"]
	printf "%-38s %10.3f %10.3f %7.3f  %-13s %6.2f (%.0f%%)\n", name, v["pair_" k "_flat_per_s"], v["pair_" k "_torch_per_s"], v["pair_" k "_ratio"], iqr["pair_" k "_ratio_iqr"], g, 100 * g / peak
}
' "$OUT/pairs.txt"
if [ "${EIGS:-0}" = 1 ]; then
	echo
	OUT="$OUT" MNIST="$MNIST" PYTHON="$PYTHON" THREADS="$THREADS" TAGS="$TAGS" scripts/bench/eigs.sh
fi
