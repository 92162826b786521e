#!/usr/bin/env bash
# Every number of docs/qdg.md "Modularity and the clusters": trains run 1 (mtp5.toml) and the 14 variants
# (runs 2-15 here = "v 1"-"v 14" there) into one store, then measures each, the hand-built network and
# the correlations, and (classes.py, "The clusters are input classes") QDG against the input classes.
# About 25 minutes on one thread (AMD EPYC, 2026-12-01, with other work beside it).
#   bash experiments/qdg-modularity/run_all.sh [STORE] [OUT.jsonl] [CLASSES.jsonl]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GROKSCOPE_STORE=${1:-/tmp/qdg-modularity.db} OMP_NUM_THREADS=1
OUT=${2:-/tmp/qdg-modularity.jsonl}
CLASSES=${3:-/tmp/qdg-classes.jsonl}
: > "$OUT"
: > "$CLASSES"
dir=experiments/qdg-modularity
train() { nice -n 10 .venv/bin/grokscope train $dir/mtp5.toml --quiet "$@" > /dev/null; }
measure() { nice -n 10 .venv/bin/python $dir/modularity.py measure "$GROKSCOPE_STORE" "$@" >> "$OUT"; }
classes() { nice -n 10 .venv/bin/python $dir/classes.py "$GROKSCOPE_STORE" "$@" >> "$CLASSES"; }
train                                                               # run 1
for s in 0 1834 4691 12000; do
  measure 1 --step $s --diag --control --tag "run 1, step $s"
  classes 1 --step $s --tag "run 1, step $s"
done
i=1
while read -r change; do
  train $(printf -- '--set %s ' $change)
  measure $((i + 1)) --diag --tag "v $i: $change"
  classes $((i + 1)) --tag "v $i: $change"
  i=$((i + 1))
done <<'LIST'
optim.weight_decay=0.1
optim.weight_decay=0.3
optim.weight_decay=1.0
model.width=512 train.steps=20000
train.steps=40000
model.width=512 train.steps=20000 optim.weight_decay=0.3
optim.decay=l1 optim.weight_decay=0.03
task.n_tasks=10 model.width=256 train.steps=20000
optim.weight_decay=0.1 train.steps=40000
model.width=512 train.steps=20000 optim.weight_decay=0.1
optim.decay=l1 optim.weight_decay=0.1
task.n_tasks=20 model.width=512 train.steps=30000
optim.decay=l1 optim.weight_decay=0.3
model.width=512 train.steps=20000 optim.decay=l1 optim.weight_decay=0.1
LIST
for v in on zero; do
  nice -n 10 .venv/bin/python $dir/handmade.py "$GROKSCOPE_STORE" 1 --variant $v --lams 0,1,3,10,30 >> "$OUT"
done
.venv/bin/python $dir/modularity.py corr "$OUT"
