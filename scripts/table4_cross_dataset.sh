#!/usr/bin/env bash
# Table IV (Finding 1): train on each dataset, validate on every dataset (noise-free PNG, no PSF).
# SCALE=quick uses two embedded sets, SYNTH and SYNTH_B (another seed: other objects and illuminants).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$SCALE" = quick ] && [ "$DATASETS" = SYNTH ] && DATASETS="SYNTH SYNTH_B"
for ds in $DATASETS; do ensure_dataset "$ds"; generate "$ds" None 0 png; done
for train in $DATASETS; do
  for m in $METHODS; do
    say "Table IV: $m trained on $train"
    ckpt="$(baseline_ckpt "$train" "$m" | tail -n 1)"
    for valid in $DATASETS; do
      validate_on "$valid" "$m" "$ckpt" None 0 png original "table4/${train}->${valid}" "$RESULTS/table4/train_${train}"
    done
  done
done
say "Table IV done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
