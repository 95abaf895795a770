#!/usr/bin/env bash
# Table II (Finding 1): train with 100, 50 and 20 % of the training scenes (exactly, chosen by SEED),
# validate on the noiseless JPEG Q65 renderings. ARAD_1K (and SYNTH, which has the same layout) use the
# MST++ recipe on Train_RGB; the converted datasets the no-metamer trainer with --percent (MRAE loss).
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PERCENTS="${PERCENTS:-100 50 20}"
for ds in $DATASETS; do ensure_dataset "$ds"; done

stage_begin generation
for ds in $DATASETS; do generate "$ds" None 0 all; done
stage_end

stage_begin training
for ds in $DATASETS; do
  for m in $METHODS; do
    for p in $PERCENTS; do
      say "Table II: $m on $p % of $ds"
      if [ -d "$(layout_folder rgb "$DATASET_PATH/$ds")" ]; then
        driver="$HSI_ROOT/scripts/train_vanilla_percent.sh"
        vars=(METHOD="$m" PERCENT="$p" DATA_ROOT="$DATASET_PATH/$ds/" OUTF="$RESULTS/table2/train/${ds}_${m}")
      else
        extra="--data_join standard"; [ "$p" != 100 ] && extra="$extra --percent $p"
        driver="$HSI_ROOT/scripts/train_RGB2HS_no_metamer.sh"
        vars=(DATASET_NAME="$ds" METHOD="$m" PSF_NAME=None NPE=0 RGB_FORMAT=png LOSS_FUNC=mrae
              RESULT_ROOT="$RESULTS/table2/train" TRAIN_ARGS="$extra")
      fi
      queue_training "$(job_name train "$ds" "$m" "percent$p")" "$driver" "${vars[@]}"
    done
  done
done
stage_end

stage_begin validation
for ds in $DATASETS; do
  for m in $METHODS; do
    for p in $PERCENTS; do
      run="${RUN_OF[$(job_name train "$ds" "$m" "percent$p")]}"
      validate_on "$ds" "$m" "$(run_ckpt "$run")" None 0 jpg original "table2/percent$p" "$RESULTS/table2/percent$p"
    done
  done
done
stage_end
say "Table II done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
