#!/bin/sh
# train32.sh — float32 against float64 training, flatsweep and PyTorch, side
# by side, on the reference problem (MLP 784-512-512-512-10, ReLU,
# cross-entropy, plain SGD at B = 128 over 2,048 MNIST examples).
#
# Builds scripts/bench/{gen,flatbench,dgemm} (with -tags openblas when OpenBLAS
# is installed), writes the reference weights and data (gen), checks
# flatsweep's float64 values against PyTorch's (torch_ref.py --check-only),
# measures the machine's dgemm and sgemm peaks (best call), then lets
# torch_ref.py --train32 alternate four calls per round, PAIRS rounds:
# PyTorch float64, flatsweep float64 (flatbench train), PyTorch float32,
# flatsweep float32 (flatbench train32), each one epoch of 16 SGD steps, and
# prints the median rates and the median per-round ratios with their
# interquartile ranges. See docs/BENCHMARKS.md, "float32 training".
#
# Environment: as compare.sh (THREADS 2, PAIRS 15, OUT, MNIST, PYTHON, TAGS,
# OMP_WAIT_POLICY).
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
"$OUT/flatbench" -dir "$OUT" -threads "$THREADS" -only none >"$OUT/values32.txt"
"$OUT/dgemm" -n 2048 -threads "$THREADS" >"$OUT/dgemm.txt"
"$OUT/dgemm" -n 2048 -threads "$THREADS" -single >>"$OUT/dgemm.txt"
"$PYTHON" scripts/bench/torch_ref.py --dir "$OUT" --mnist "$MNIST" --threads "$THREADS" --pairs "$PAIRS" --train32 \
	--flatbench "$OUT/flatbench -dir $OUT -threads $THREADS -serve" >"$OUT/train32.txt"

bench_machine
echo "flatsweep backend: $(grep flatsweep_backend "$OUT/values.txt" | cut -d' ' -f2); $THREADS threads; PyTorch OMP_WAIT_POLICY=$OMP_WAIT_POLICY; $PAIRS alternating rounds"
grep -E '^(torch_version|values_ok)' "$OUT/values.txt"
grep -E '^relerr_grad32_vs_gen' "$OUT/values32.txt"
grep -E '^relerr_torch_grad32' "$OUT/train32.txt"
grep -E '^[ds]gemm_(gflops|best_gflops)' "$OUT/dgemm.txt"
awk '
{ v[$1] = $2; if ($1 ~ /_iqr$/) iqr[$1] = $2 "–" $3 }
END {
	printf "%-20s %12s %9s\n", "median over rounds", "examples/s", "GFLOP/s"
	split("flat64 flat32 torch64 torch32", ks, " ")
	split("flatsweep float64,flatsweep float32,PyTorch float64,PyTorch float32", names, ",")
	for (i = 1; i <= 4; i++)
		printf "%-20s %12.0f %9.2f\n", names[i], v["train_" ks[i] "_examples_per_s"], v["train_" ks[i] "_gflops"]
	printf "\n%-34s %7s  %s\n", "per-round ratio (speed-up)", "median", "IQR"
	split("flat32_vs_flat64 flat32_vs_torch32 flat32_vs_torch64 flat64_vs_torch64 torch32_vs_torch64", rs, " ")
	for (i = 1; i <= 5; i++)
		printf "%-34s %7.3f  %s\n", rs[i], v["ratio_" rs[i]], iqr["ratio_" rs[i] "_iqr"]
}
' "$OUT/train32.txt"
