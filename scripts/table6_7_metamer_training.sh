#!/usr/bin/env bash
# Tables VI and VII (Finding 2): train with no, fixed (alpha 0 on disk) or on-the-fly (alpha ~ U(-1, 2))
# metamers, in the clean setting (npe 0, no PSF) and the noisy + aberrated one (npe 1000, double Gauss),
# and validate each network on the originals and on the metamers of its own setting.
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DG="${DG:-double_gauss_50mm_F1.8}"
MODES="${MODES:-no fixed onthefly}"
SETTINGS="${SETTINGS:-clean noisy_aberrated}"
setting_optics() { if [ "$1" = clean ]; then psf=None; npe=0; else psf="$DG"; npe=1000; fi; }
for ds in $DATASETS; do ensure_dataset "$ds"; done

say "Tables VI/VII: data"
stage_begin generation
for ds in $DATASETS; do
  for setting in $SETTINGS; do setting_optics "$setting"; generate "$ds" "$psf" "$npe" png; done
done
stage_end

say "Tables VI/VII: training"
stage_begin training
for ds in $DATASETS; do
  for setting in $SETTINGS; do
    setting_optics "$setting"
    for m in $METHODS; do
      for mode in $MODES; do
        case "$mode" in
          no) loss=mrae; extra="--data_join standard" ;;
          *) loss=l1; extra="" ;;
        esac
        [ "$SCALE" = quick ] && loss=l1
        queue_training "$(job_name train "$ds" "$setting" "$m" "$mode")" "$HSI_ROOT/scripts/train_RGB2HS_${mode}_metamer.sh" \
          DATASET_NAME="$ds" METHOD="$m" PSF_NAME="$psf" NPE="$npe" RGB_FORMAT=png LOSS_FUNC="$loss" \
          RESULT_ROOT="$RESULTS/table6_7/train" TRAIN_ARGS="$extra"
      done
    done
  done
done
stage_end

say "Tables VI/VII: validation"
stage_begin validation
for ds in $DATASETS; do
  for setting in $SETTINGS; do
    setting_optics "$setting"
    for m in $METHODS; do
      for mode in $MODES; do
        run="${RUN_OF[$(job_name train "$ds" "$setting" "$m" "$mode")]}"
        for kind in original metamer; do
          validate_on "$ds" "$m" "$(run_ckpt "$run")" "$psf" "$npe" png "$kind" \
            "table6_7/${mode}_${setting}_${kind}" "$RESULTS/table6_7/${mode}_${setting}_${kind}"
        done
      done
    done
  done
done
stage_end
say "Tables VI/VII done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
