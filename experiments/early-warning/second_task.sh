#!/usr/bin/env bash
# Early warning (issue 13): fit the predictor on a + b mod 41 and score it on runs it never saw:
#   run 2: another task, a * b mod 41 (same model and optimizer, other seeds, fractions varied);
#   run 3: a + b mod 41 at ONE training fraction over 24 seeds (the training fraction cannot help);
# beside every baseline (training loss, weight norm, training fraction, the whole setup).
# Usage: experiments/early-warning/second_task.sh [STORE]   (a fresh store; about 2.2 CPU-minutes, one thread)
set -euo pipefail
STORE=${1:-/tmp/ew-second-task/runs.db}
G=${GROKSCOPE:-grokscope}
if [ -e "$STORE" ]; then echo "$STORE exists: give a path for a fresh store" >&2; exit 1; fi
mkdir -p "$(dirname "$STORE")"
export OMP_NUM_THREADS=1

F1='[0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.6,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.6,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.6]'
FM='[0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.7,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.7,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.7]'
COMMON=(--preset demo --set n_members=24 --set train.steps=3000 --set train.stop_after_grok=false
        --set train.signals=true --set log.n_checkpoints=2 --store "$STORE" --quiet)

nice -n 10 "$G" train "${COMMON[@]}" --set seed=0 --set "task.train_frac=$F1"                    # run 1: a + b, the training sweep
nice -n 10 "$G" train "${COMMON[@]}" --set seed=1 --set task.op=mul --set "task.train_frac=$FM"  # run 2: a * b
nice -n 10 "$G" train "${COMMON[@]}" --set seed=2 --set task.train_frac=0.55                     # run 3: a + b, one fraction

for T in 2 3; do
  for W in 150 300; do
    COLUMNS=160 nice -n 10 "$G" warn "$T" --train 1 --window "$W" --score --store "$STORE"
    nice -n 10 "$G" warn "$T" --train 1 --window "$W" --score --json --store "$STORE" > "$(dirname "$STORE")/score-run$T-W$W.json"
  done
done
