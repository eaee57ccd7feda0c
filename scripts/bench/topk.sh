#!/bin/sh
# topk.sh — top-5 Hessian eigenvalues of the reference problem through
# `flatsweep hessian --measures top_k`, end to end, against PyHessian's
# hessian.eigenvalues(top_n=5) at its defaults (maxIter=100, tol=1e-3,
# Gram–Schmidt deflation) in PyTorch, side by side, for REPS random starts.
#
#	scripts/bench/topk.sh
#	REPS=5 TOL=1e-3 scripts/bench/topk.sh
#
# Builds scripts/bench/{gen,flateigs} and cmd/flatsweep (with -tags openblas
# when OpenBLAS is installed) and writes the reference weights and data (gen,
# which also writes the 2,048 examples as IDX files, so that a trial spec
# names exactly them). Then:
#
#  1. a tight Lanczos run (flateigs, relative residual 1e-10) gives the
#     reference eigenvalues;
#  2. REPS times, alternately: torch_ref.py --eigs --seed i (PyHessian's
#     power iteration, seeded i) and `flatsweep --blas-threads THREADS
#     hessian --measures top_k --tol TOL --format json` (the same threads as
#     PyTorch; flatsweep's default is 1) on a trial spec with seed i (the seed draws
#     the Lanczos start vector). flatsweep's products and seconds are the
#     ones its result reports ("costs": the Hessian's set-up and the one
#     top_k run, λ₁ included); the command's whole wall time, with loading
#     the data and weights, is shown too.
#
# It prints each run's products, seconds and largest relative error against
# the reference, the per-start ratios PyHessian/flatsweep of products and of
# time (PyHessian's set-up + solve against flatsweep's set-up + top_k), and
# whether every start reached ≥ 4 with every value within 1e-6 relative.
#
# With STEPS (e.g. "18 19 20") and STEPS_STARTS (e.g. "1 4") it then runs,
# for each such start and step count j, `flatsweep hessian` with exactly j
# Lanczos steps (lanczos_steps = top_k.steps = j, tolerances 1e-14 so that
# no pair stops the run) and prints the relative error of each of the five
# Ritz values against the reference: how many products any stopping rule
# needs for every value to be within 1e-6 from that start.
# See docs/BENCHMARKS.md, "Top-5 through flatsweep hessian".
#
# Environment: THREADS (2), REPS (5), TOL (1e-3, top_k.tol), OUT
# (/tmp/flatsweep-bench), MNIST (data/mnist), PYTHON (/usr/bin/python3),
# TAGS (auto: openblas when installed), OMP_WAIT_POLICY (PASSIVE), PAUSE (1),
# STEPS and STEPS_STARTS (empty and 1).
set -eu
cd "$(dirname "$0")/../.."
REPS=${REPS:-5}
STEPS=${STEPS:-}
STEPS_STARTS=${STEPS_STARTS:-1}
TOL=${TOL:-1e-3}
PAUSE=${PAUSE:-1}
. scripts/bench/common.sh

mkdir -p "$OUT"
for p in gen flateigs; do
	$GO build -tags "$TAGS" -o "$OUT/$p" "./scripts/bench/$p"
done
$GO build -tags "$TAGS" -o "$OUT/flatsweep" ./cmd/flatsweep
"$OUT/gen" -mnist "$MNIST" -out "$OUT"
E="$OUT/topk"
rm -rf "$E"
mkdir -p "$E"
IDX=$(cd "$OUT/idx" && pwd)

"$OUT/flateigs" -dir "$OUT" -threads "$THREADS" -method lanczos -tol 1e-10 -seed 1 >"$E/ref.txt"
i=1
while [ "$i" -le "$REPS" ]; do
	cat >"$E/trial.$i.json" <<EOF
{"dataset": {"name": "mnist", "n": 2048, "n_test": 16, "seed": 1,
  "train_images": "$IDX/train-images-idx3-ubyte", "train_labels": "$IDX/train-labels-idx1-ubyte",
  "test_images": "$IDX/train-images-idx3-ubyte", "test_labels": "$IDX/train-labels-idx1-ubyte"},
 "model": {"arch": "mlp", "hidden": [512, 512, 512], "activation": "relu"},
 "batch_size": 128, "lr": 0.01, "epochs": 1, "seed": $i}
EOF
	sleep "$PAUSE"
	"$PYTHON" scripts/bench/torch_ref.py --dir "$OUT" --mnist "$MNIST" --threads "$THREADS" \
		--eigs --top-k 5 --tol 1e-3 --max-iter 100 --seed "$i" >"$E/torch.$i.txt"
	sleep "$PAUSE"
	t0=$(date +%s.%N)
	"$OUT/flatsweep" --blas-threads "$THREADS" hessian --weights "$OUT/model.safetensors" --spec "$E/trial.$i.json" \
		--measures top_k --tol "$TOL" --format json >"$E/flatsweep.$i.json"
	t1=$(date +%s.%N)
	echo "$t0 $t1" >"$E/wall.$i.txt"
	i=$((i + 1))
done

bench_machine
echo "flatsweep backend: $(grep flatsweep_backend "$E/ref.txt" | cut -d' ' -f2); $THREADS threads; PyTorch $(grep torch_version "$E/torch.1.txt" | cut -d' ' -f2), OMP_WAIT_POLICY=$OMP_WAIT_POLICY; $REPS alternating starts; flatsweep top_k.tol $TOL"
grep -E '^(relerr_hv_norm|values_ok)' "$E/torch.1.txt"
"$PYTHON" - "$E" "$REPS" <<'EOF'
import json, os, sys

d, reps = sys.argv[1], int(sys.argv[2])


def kv(name):
    out = {}
    with open(os.path.join(d, name)) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            out[k] = v
    return out


ref = kv("ref.txt")
refv = [float(ref[f"eig_{i}"]) for i in range(1, 6)]
print(f"reference: flatsweep Lanczos, residual tol 1e-10: {ref['products']} products, converged {ref['converged']}")
print(" ".join(f"{v:.12f}" for v in refv))
print(f"{'start':>5} {'pyh products':>12} {'pyh s':>7} {'pyh err':>8} | {'fs products':>11} {'fs s':>6} {'fs wall s':>9} {'fs err':>8} {'one λ₁':>6} | {'products ×':>10} {'time ×':>7}")
pr, tr, ok = [], [], True
for i in range(1, reps + 1):
    t = kv(f"torch.{i}.txt")
    tv = [float(t[f"eig_{j}"]) for j in range(1, 6)]
    with open(os.path.join(d, f"flatsweep.{i}.json")) as f:
        r = json.load(f)
    fv = [r["measures"][f"lambda_{j}"] for j in range(1, 6)]
    costs = {c["measure"]: c for c in r["costs"]}
    fprod = sum(c.get("hvps", 0) for c in r["costs"])
    fsec = sum(c["seconds"] for c in r["costs"])
    t0, t1 = (float(x) for x in open(os.path.join(d, f"wall.{i}.txt")).read().split())
    psec = float(t["seconds_setup"]) + float(t["seconds_solve"])
    perr = max(abs(a - b) / abs(b) for a, b in zip(tv, refv))
    ferr = max(abs(a - b) / abs(b) for a, b in zip(fv, refv))
    one = r["lambda_max"] == fv[0] and r["hvps"] == costs["top_k"]["hvps"] == fprod
    p, s = int(t["products"]) / fprod, psec / fsec
    pr.append(p)
    tr.append(s)
    ok = ok and p >= 4 and s >= 4 and ferr <= 1e-6 and one
    print(f"{i:>5} {int(t['products']):>12d} {psec:>7.2f} {perr:>8.1e} | {fprod:>11d} {fsec:>6.2f} {t1 - t0:>9.2f} {ferr:>8.1e} {str(one):>6} | {p:>10.2f} {s:>7.2f}")
print(f"products ratio: min {min(pr):.2f}, max {max(pr):.2f}; time ratio: min {min(tr):.2f}, max {max(tr):.2f}")
print(f"every start >= 4x fewer products and >= 4x less time, values within 1e-6, one λ₁: {'MET' if ok else 'NOT met'}")
EOF

[ -n "$STEPS" ] || exit 0
echo "Ritz values after exactly j Lanczos steps (relative error of λ₁ … λ₅ against the reference):"
for i in $STEPS_STARTS; do
	for j in $STEPS; do
		sed "s/\"seed\": $i}\$/\"seed\": $i, \"curvature\": {\"lanczos_steps\": $j, \"tol\": 1e-14, \"measures\": [\"top_k\"], \"top_k\": {\"steps\": $j, \"tol\": 1e-14}}}/" \
			"$E/trial.$i.json" >"$E/steps.$i.$j.json"
		"$OUT/flatsweep" --blas-threads "$THREADS" hessian --weights "$OUT/model.safetensors" --spec "$E/steps.$i.$j.json" \
			--format json >"$E/steps.$i.$j.out.json"
		"$PYTHON" - "$E" "$i" "$j" <<'EOF'
import json, os, sys

d, i, j = sys.argv[1:]
ref = {}
for line in open(os.path.join(d, "ref.txt")):
    k, _, v = line.strip().partition(" ")
    ref[k] = v
r = json.load(open(os.path.join(d, f"steps.{i}.{j}.out.json")))
errs = [abs(r["measures"][f"lambda_{n}"] - float(ref[f"eig_{n}"])) / abs(float(ref[f"eig_{n}"])) for n in range(1, 6)]
print(f"start {i} steps {j:>3} products {r['hvps']:>3}: " + " ".join(f"{e:.1e}" for e in errs) + f"  all within 1e-6: {max(errs) <= 1e-6}")
EOF
	done
done
