#!/usr/bin/env bash
# Table V (Finding 2): networks trained without metamers, validated on the originals and on the RGB of
# alpha = 0 metamers (other spectra, the same camera response). Networks: see baseline_ckpt in lib.sh.
#   SCALE=quick ./scripts/table5_metamer_validation.sh     # embedded data, CPU, a few minutes
# METAMER_MODE: clip (the paper's, default) or exact (the demo's: the metamers keep the originals' camera
# response exactly, so the paired lower bound of summary.json is strict). The generated folder's name does not
# hold the mode: another mode in the same folder is refused (use another DATASET_PATH or --overwrite).
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${METAMER_MODE:=clip}"
export METAMER_MODE
for ds in $DATASETS; do ensure_dataset "$ds"; done

say "Table V: data (noise-free, no PSF, png)"
stage_begin generation
for ds in $DATASETS; do
  generate "$ds" None 0 png
  baseline_data "$ds"
done
stage_end

say "Table V: networks"
stage_begin training
for ds in $DATASETS; do
  for m in $METHODS; do baseline_train "$ds" "$m"; done
done
stage_end

say "Table V: validation on original and metamer data"
stage_begin validation
for ds in $DATASETS; do
  for m in $METHODS; do
    ckpt="$(baseline_ckpt "$ds" "$m")"
    for kind in original metamer; do
      validate_on "$ds" "$m" "$ckpt" None 0 png "$kind" "table5/$kind" "$RESULTS/table5/$kind"
    done
  done
done
stage_end
say "Table V done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
