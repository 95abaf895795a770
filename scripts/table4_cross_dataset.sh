#!/usr/bin/env bash
# Table IV (Finding 1): train on each dataset, validate on every dataset (noise-free PNG, no PSF).
# SCALE=quick uses two embedded sets, SYNTH and SYNTH_B (another seed: other objects and illuminants).
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$SCALE" = quick ] && [ "$DATASETS" = SYNTH ] && DATASETS="SYNTH SYNTH_B"
for ds in $DATASETS; do ensure_dataset "$ds"; done

stage_begin generation
for ds in $DATASETS; do generate "$ds" None 0 png; baseline_data "$ds"; done
stage_end

say "Table IV: networks"
stage_begin training
for train in $DATASETS; do
  for m in $METHODS; do baseline_train "$train" "$m"; done
done
stage_end

say "Table IV: cross validation"
stage_begin validation
for train in $DATASETS; do
  for m in $METHODS; do
    ckpt="$(baseline_ckpt "$train" "$m")"
    for valid in $DATASETS; do
      validate_on "$valid" "$m" "$ckpt" None 0 png original "table4/${train}->${valid}" "$RESULTS/table4/train_${train}"
    done
  done
done
stage_end
say "Table IV done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
