#!/usr/bin/env bash
# Table III (Finding 1): networks trained without metamers, validated on slightly modified data:
# noiseless JPEG Q65, noiseless lossless PNG, and PNG with Poisson noise (npe 1000) + the double Gauss PSF.
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DG="${DG:-double_gauss_50mm_F1.8}"
for ds in $DATASETS; do ensure_dataset "$ds"; done

say "Table III: data"
stage_begin generation
for ds in $DATASETS; do
  generate "$ds" None 0 all
  generate "$ds" "$DG" 1000 png
  baseline_data "$ds"
done
stage_end

say "Table III: networks"
stage_begin training
for ds in $DATASETS; do
  for m in $METHODS; do baseline_train "$ds" "$m"; done
done
stage_end

say "Table III: validation"
stage_begin validation
for ds in $DATASETS; do
  for m in $METHODS; do
    ckpt="$(baseline_ckpt "$ds" "$m")"
    validate_on "$ds" "$m" "$ckpt" None 0 jpg original table3/jpg_q65 "$RESULTS/table3/jpg_q65"
    validate_on "$ds" "$m" "$ckpt" None 0 png original table3/png "$RESULTS/table3/png"
    validate_on "$ds" "$m" "$ckpt" "$DG" 1000 png original table3/png_npe1000_dg "$RESULTS/table3/png_npe1000_dg"
  done
done
stage_end
say "Table III done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
