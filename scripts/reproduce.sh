#!/usr/bin/env bash
# reproduce.sh — run the shipped reproductions of docs/REPRODUCTION.md and
# regenerate their analyses and reports.
#
#   scripts/reproduce.sh [SWEEP_NAME ...]
#
# Default: every reproduction, in the document's order (about 55 minutes on
# two cores; docs/REPRODUCTION.md gives each sweep's). Each sweep runs with `flatsweep run --workers $WORKERS` (default
# 2) into $OUT/NAME.db (default OUT=out/reproduce); its `flatsweep analyze`
# table goes to $OUT/NAME.analyze.txt, its grouped results to
# $OUT/NAME.results.txt, its export to $OUT/NAME.csv and its report to
# $OUT/NAME/. An existing database is reused: the trials it already holds are
# not run again (delete it to start over). MNIST must be in data/mnist
# (README.md says which files).  Wall times: docs/REPRODUCTION.md.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${OUT:-out/reproduce}
workers=${WORKERS:-2}
all=(keskar-f1 keskar-f1-bn keskar-sb-lb yao-batch-spectrum yao-batch-spectrum-epochs
  increase-batch-vs-decay-lr sam-mnist sam-flatness
  keskar-warm-start keskar-augmentation edge-of-stability
  smith-le-noise-scale occam-evidence dinh-reparametrization skip-connections
  which-measure-predicts)
if [ $# -gt 0 ]; then names=("$@"); else names=("${all[@]}"); fi
mkdir -p "$out"

go build -tags openblas -o bin/flatsweep ./cmd/flatsweep
bin=./bin/flatsweep

for name in "${names[@]}"; do
  sweep=sweeps/$name.yaml
  [ -f "$sweep" ] || { echo "reproduce.sh: no $sweep" >&2; exit 2; }
  db=$out/$name.db
  echo "== $name" >&2
  start=$(date +%s)
  "$bin" run "$sweep" --workers "$workers" --db "$db" >"$out/$name.results.txt"
  echo "   $(( $(date +%s) - start )) s" >&2
  "$bin" analyze "$name" --db "$db" >"$out/$name.analyze.txt"
  "$bin" export "$name" --db "$db" --out "$out/$name.csv"
  "$bin" report "$name" --db "$db" --out "$out/$name"
done
