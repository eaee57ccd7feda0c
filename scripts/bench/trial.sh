#!/bin/sh
# trial.sh — one whole keskar-f1 trial (sweeps/keskar-f1.yaml: MNIST
# N = 8,000 from data/mnist, MLP 784-512-512-10, Adam lr 1e-3, 20 epochs,
# seed 1, 2,000 curvature examples) with the measures λ₁, top_k (k = 5),
# trace and full-space keskar sharpness, before and after side by side:
#
#	before  the binary of BEFORE_REV (default HEAD: this checkout's code;
#	        BEFORE_REV=46e683e is the code before the krylov method),
#	        trace.method hutchpp at its default budget 99 (sketch 33,
#	        projection 33, probes 33);
#	after   this checkout's binary, trace.method krylov at budget 50 with
#	        krylov_rank 30: the Krylov basis of top_k's Lanczos run (15 or
#	        so vectors) deflates for free, is continued to 30 vectors (one
#	        product each) and the rest of the 50 products are probes of the
#	        deflated remainder.
#
# BEFORE_TRACE and AFTER_TRACE override the two trace settings blocks.
#
#	scripts/bench/trial.sh
#	BATCHES="256 800" OUT=/tmp/flatsweep-trial scripts/bench/trial.sh
#
# For every batch size in BATCHES it runs `flatsweep --blas-threads THREADS
# train` of a one-trial sweep on both sides, alternating which side goes
# first from one batch size to the next, and prints from each result.json:
# train_seconds, curvature_seconds and their ratio, the products and seconds
# of every piece of the curvature work (the result's costs), λ₁, trace and
# trace_se, and the difference of the two traces in units of their combined
# standard error. Both sides train the same network bit for bit (same spec,
# same trainer), so only the curvature work differs.
#
# Environment: BATCHES ("256 800"), BEFORE_REV (HEAD),
# BEFORE_TRACE ("{method: hutchpp, budget: 99}"), AFTER_TRACE ("{method:
# krylov, budget: 50, krylov_rank: 30}"), THREADS (2), OUT
# (/tmp/flatsweep-trial), MNIST (data/mnist), GO (go), TAGS (auto: openblas
# when installed), PAUSE (1).
set -eu
cd "$(dirname "$0")/../.."
BATCHES=${BATCHES:-256 800}
BEFORE_REV=${BEFORE_REV:-HEAD}
PAUSE=${PAUSE:-1}
BEFORE_TRACE=${BEFORE_TRACE:-"{method: hutchpp, budget: 99}"}
AFTER_TRACE=${AFTER_TRACE:-"{method: krylov, budget: 50, krylov_rank: 30, precision: float32}"}
OUT=${OUT:-/tmp/flatsweep-trial}
. scripts/bench/common.sh

mkdir -p "$OUT"
rm -rf "$OUT/before-src"
mkdir -p "$OUT/before-src"
git archive "$BEFORE_REV" | tar -x -C "$OUT/before-src"
(cd "$OUT/before-src" && $GO build -tags "$TAGS" -o "$OUT/flatsweep-before" ./cmd/flatsweep)
$GO build -tags "$TAGS" -o "$OUT/flatsweep-after" ./cmd/flatsweep
MNIST_ABS=$(cd "$MNIST" && pwd)

sweep() { # sweep SIDE BATCH TRACE-SETTINGS
	cat >"$OUT/$1.$2.yaml" <<EOF
name: keskar-f1-$1-$2
dataset: {name: mnist, dir: $MNIST_ABS, n: 8000, n_test: 2000, seed: 1}
model: {arch: mlp, hidden: [512, 512], activation: relu}
train:
  epochs: 20
  optimizer: {name: adam, beta1: 0.9, beta2: 0.999, eps: 1e-8}
curvature:
  examples: 2000
  lanczos_steps: 30
  measures: [top_k, trace, keskar]
  top_k: {k: 5}
  trace: $3
  keskar: {epsilons: [1e-3, 5e-4], space: full, iterations: 10}
grid: {batch_size: [$2], lr: [0.001], seed: [1]}
EOF
}

first=before
for b in $BATCHES; do
	sweep before "$b" "$BEFORE_TRACE"
	sweep after "$b" "$AFTER_TRACE"
	if [ "$first" = before ]; then order="before after"; else order="after before"; fi
	for side in $order; do
		sleep "$PAUSE"
		rm -rf "$OUT/$side.$b"
		"$OUT/flatsweep-$side" --blas-threads "$THREADS" train "$OUT/$side.$b.yaml" --out "$OUT/$side.$b" 2>"$OUT/$side.$b.log"
	done
	if [ "$first" = before ]; then first=after; else first=before; fi
done

bench_machine
echo "backend tags: ${TAGS:-none}; $THREADS threads; before = $BEFORE_REV ($(git rev-parse --short "$BEFORE_REV")), trace $BEFORE_TRACE; after = $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'), trace $AFTER_TRACE"
python3 - "$OUT" $BATCHES <<'EOF'
import json, math, os, sys

d, batches = sys.argv[1], sys.argv[2:]
for b in batches:
    r = {s: json.load(open(os.path.join(d, f"{s}.{b}", "result.json"))) for s in ("before", "after")}
    print(f"\nB = {b}")
    for s in ("before", "after"):
        x = r[s]
        m = x.get("measures", {})
        ratio = x["curvature_seconds"] / x["train_seconds"]
        print(f"  {s:6} train {x['train_seconds']:7.1f} s  curvature {x['curvature_seconds']:7.1f} s  "
              f"curvature/train {ratio:5.2f}  λ₁ {x['lambda_max']:.9g}  trace {m.get('trace', float('nan')):.6g} "
              f"± {m.get('trace_se', float('nan')):.3g}  krylov rank {m.get('trace_krylov_rank', '-')}")
        for c in x.get("costs", []):
            print(f"      {c['measure']:10} hvps {c.get('hvps', 0):4d}  gradients {c.get('gradients', 0):4d}  "
                  f"losses {c.get('losses', 0):4d}  {c.get('seconds', 0):7.2f} s")
    tb, ta = (r[s]["measures"]["trace"] for s in ("before", "after"))
    sb, sa = (r[s]["measures"]["trace_se"] for s in ("before", "after"))
    same = r["before"]["train_loss"] == r["after"]["train_loss"] if "train_loss" in r["before"] else "?"
    print(f"  trace after − before = {ta - tb:.4g} = {(ta - tb) / math.hypot(sa, sb):.2f} combined SE; "
          f"SE after/before {sa / sb:.2f}; same training: {same}")
    print(f"  curvature seconds before/after {r['before']['curvature_seconds'] / r['after']['curvature_seconds']:.2f}")
EOF
