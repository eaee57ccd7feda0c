#!/bin/sh
# eigs.sh — top-5 Hessian eigenvalues of the reference problem: flatsweep's
# Lanczos (curvature.LanczosTopK, residual tolerance 1e-4) against PyHessian's
# power iteration with Gram–Schmidt deflation (relative-change tolerance 1e-3,
# at most 100 products per pair) in PyTorch, side by side.
#
#	scripts/bench/eigs.sh                 # or: EIGS=1 scripts/bench/compare.sh
#	REPS=3 scripts/bench/eigs.sh
#
# Builds scripts/bench/{gen,flateigs} (with -tags openblas when OpenBLAS is
# installed), writes the reference weights and data (gen), then:
#
#  1. a tight Lanczos run (tol 1e-8) gives the reference eigenvalues;
#  2. REPS times, alternately: torch_ref.py --eigs (PyHessian's
#     hessian.eigenvalues on the full-batch Hessian, which first checks
#     flatsweep's loss, gradient and Hv against PyTorch's double backward) and
#     flateigs -method lanczos;
#  3. once, for information: flatsweep's own PowerIteration at tol 1e-3.
#
# It prints each method's products and seconds (the solve, and the part of it
# spent in Hessian-vector products; the set-up — the forward, create_graph
# backward / cached passes and one warm-up product — is shown apart), the
# per-repetition ratios power/Lanczos (median over REPS),
# the ratios of the totals over all repetitions (the expected cost per run,
# since power iteration's product count varies a lot with its random start),
# and each method's eigenvalues with their relative errors against the
# reference. Both sides use the same number of threads and the same
# OpenBLAS. See docs/BENCHMARKS.md, "Top-5 eigenvalues".
#
# Environment: THREADS (2), REPS (3), OUT (/tmp/flatsweep-bench), MNIST
# (data/mnist: the MNIST t10k files), PYTHON (/usr/bin/python3, Debian's python3-torch),
# TAGS (auto: openblas when installed), OMP_WAIT_POLICY (PASSIVE), SEED (1),
# PAUSE (1, seconds between runs), GO_POWER (1: also run flatsweep's power
# iteration; 0 to skip).
set -eu
cd "$(dirname "$0")/../.."
REPS=${REPS:-3}
SEED=${SEED:-1}
PAUSE=${PAUSE:-1}
GO_POWER=${GO_POWER:-1}
. scripts/bench/common.sh

mkdir -p "$OUT"
for p in gen flateigs; do
	$GO build -tags "$TAGS" -o "$OUT/$p" "./scripts/bench/$p"
done
"$OUT/gen" -mnist "$MNIST" -out "$OUT"
E="$OUT/eigs"
rm -rf "$E"
mkdir -p "$E"

"$OUT/flateigs" -dir "$OUT" -threads "$THREADS" -method lanczos -tol 1e-8 -seed "$SEED" >"$E/ref.txt"
i=1
while [ "$i" -le "$REPS" ]; do
	sleep "$PAUSE"
	"$PYTHON" scripts/bench/torch_ref.py --dir "$OUT" --mnist "$MNIST" --threads "$THREADS" \
		--eigs --top-k 5 --tol 1e-3 --max-iter 100 --seed "$((SEED + i - 1))" >"$E/torch.$i.txt"
	sleep "$PAUSE"
	"$OUT/flateigs" -dir "$OUT" -threads "$THREADS" -method lanczos -tol 1e-4 \
		-seed "$((SEED + i))" >"$E/lanczos.$i.txt"
	i=$((i + 1))
done
if [ "$GO_POWER" = 1 ]; then
	sleep "$PAUSE"
	"$OUT/flateigs" -dir "$OUT" -threads "$THREADS" -method power -tol 1e-3 -maxiter 100 \
		-seed "$SEED" >"$E/gopower.txt"
fi

bench_machine
echo "flatsweep backend: $(grep flatsweep_backend "$E/ref.txt" | cut -d' ' -f2); $THREADS threads; PyTorch $(grep torch_version "$E/torch.1.txt" | cut -d' ' -f2), OMP_WAIT_POLICY=$OMP_WAIT_POLICY; $REPS alternating repetitions"
grep -E '^(relerr|values_ok)' "$E/torch.1.txt"
"$PYTHON" - "$E" "$REPS" <<'EOF'
import os, statistics, sys

d, reps = sys.argv[1], int(sys.argv[2])


def read(name):
    kv = {}
    with open(os.path.join(d, name)) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            kv[k] = v
    kv["eigs"] = [float(kv[f"eig_{i}"]) for i in range(1, int(kv["k"]) + 1)]
    return kv


ref = read("ref.txt")
torch = [read(f"torch.{i}.txt") for i in range(1, reps + 1)]
lz = [read(f"lanczos.{i}.txt") for i in range(1, reps + 1)]
gp = read("gopower.txt") if os.path.exists(os.path.join(d, "gopower.txt")) else None


def maxerr(r):
    return max(abs(a - b) / abs(b) for a, b in zip(r["eigs"], ref["eigs"]))


print(f"reference: Lanczos tol 1e-8, {ref['products']} products, {ref['seconds_solve']} s, converged {ref['converged']}")
print(f"{'run':<28} {'products':>8} {'solve s':>9} {'in Hv s':>8} {'setup s':>8} {'Hv s/product':>12} {'max rel err':>11}")
rows = []
for i in range(reps):
    rows.append((f"pyhessian power #{i + 1}", torch[i]))
    rows.append((f"flatsweep lanczos #{i + 1}", lz[i]))
if gp:
    rows.append(("flatsweep power (info)", gp))
for name, r in rows:
    p, s = int(r["products"]), float(r["seconds_solve"])
    hv = float(r["seconds_products"])
    print(f"{name:<28} {p:>8d} {s:>9.2f} {hv:>8.2f} {float(r['seconds_setup']):>8.2f} {hv / p:>12.3f} {maxerr(r):>11.2e}")

pr = [int(t["products"]) / int(l["products"]) for t, l in zip(torch, lz)]
tr = [float(t["seconds_solve"]) / float(l["seconds_solve"]) for t, l in zip(torch, lz)]
ta = [(float(t["seconds_solve"]) + float(t["seconds_setup"])) /
      (float(l["seconds_solve"]) + float(l["seconds_setup"])) for t, l in zip(torch, lz)]
fmt = lambda xs: " ".join(f"{x:.2f}" for x in xs)
print(f"products ratio power/lanczos: median {statistics.median(pr):.2f} (per rep: {fmt(pr)})  target >= 4: {'MET' if statistics.median(pr) >= 4 else 'NOT met'}")
print(f"time ratio power/lanczos (solve): median {statistics.median(tr):.2f} (per rep: {fmt(tr)})  target >= 4: {'MET' if statistics.median(tr) >= 4 else 'NOT met'}")
sp = sum(int(t["products"]) for t in torch) / sum(int(l["products"]) for l in lz)
st = sum(float(t["seconds_solve"]) for t in torch) / sum(float(l["seconds_solve"]) for l in lz)
print(f"ratio of totals over the {reps} reps (expected cost per run): products {sp:.2f}, solve time {st:.2f}")
print(f"reps with ratio >= 4: products {sum(r >= 4 for r in pr)}/{reps}, time {sum(r >= 4 for r in tr)}/{reps}")
hr = [(float(t["seconds_products"]) / int(t["products"])) / (float(l["seconds_products"]) / int(l["products"])) for t, l in zip(torch, lz)]
print(f"seconds per Hv, pytorch/flatsweep: median {statistics.median(hr):.2f} (per rep: {fmt(hr)})")
print(f"time ratio power/lanczos (set-up + solve): median {statistics.median(ta):.2f} (per rep: {fmt(ta)})")

print("eigenvalues (relative error against the reference):")
head = f"{'i':>2} {'reference (1e-8)':>20}"
for i in range(reps):
    head += f" {'power #' + str(i + 1):>24} {'lanczos #' + str(i + 1):>24}"
if gp:
    head += f" {'flatsweep power':>24}"
print(head)
for j in range(int(ref["k"])):
    rv = ref["eigs"][j]
    line = f"{j + 1:>2} {rv:>20.12f}"
    cols = []
    for i in range(reps):
        cols += [torch[i], lz[i]]
    if gp:
        cols.append(gp)
    for r in cols:
        v = r["eigs"][j]
        line += f" {v:>13.8f} ({abs(v - rv) / abs(rv):.1e})"
    print(line)
EOF
