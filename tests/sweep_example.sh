#!/usr/bin/env bash
# A driver in stages (the pattern of the per-table drivers under LAUNCHER=local|parallel|slurm), with the
# tiny jobs of tests/_sweep_jobs.py standing in for generation, training and validation.
#   LAUNCHER=parallel MAX_PARALLEL=2 RESULTS=/tmp/example bash tests/sweep_example.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$HSI_ROOT/scripts/lib_sweep.sh"
JOB="$HSI_ROOT/tests/_sweep_jobs.py"
DATASETS_HERE="A B"

stage_begin generation            # 1. data: one job per dataset, done when its output exists
for ds in $DATASETS_HERE; do
  stage_add "gen_$ds" "$RESULTS/data/$ds.json" 0 -- "$PY" "$JOB" compute --name "gen_$ds" --out "$RESULTS/data/$ds.json" --n 7
done
stage_end

stage_begin training              # 2. trainings: resumable (--resume True), done when summary.json says finished
for ds in $DATASETS_HERE; do
  run="$RESULTS/train/net_$ds"
  stage_add "train_$ds" "$run/summary.json" 1 -- $LAUNCH "$JOB" train --name "train_$ds" --out "$run" --n 5
done
stage_end

stage_begin validation            # 3. validations: the checkpoint (@ckpt:) is resolved when the job starts
for ds in $DATASETS_HERE; do
  stage_add "valid_$ds" "$RESULTS/valid/$ds/summary.json" 0 -- \
    "$PY" "$JOB" validate --name "valid_$ds" --ckpt "@ckpt:$RESULTS/train/net_$ds" --out "$RESULTS/valid/$ds/summary.json" --n 9
done
stage_end
say "example done: $PY scripts/sweep_status.py $RESULTS"
