#!/usr/bin/env bash
# Tables VI and VII (Finding 2): train with no, fixed (alpha 0 on disk) or on-the-fly (alpha ~ U(-1, 2))
# metamers, in the clean setting (npe 0, no PSF) and the noisy + aberrated one (npe 1000, double Gauss),
# and validate each network on the originals and on the metamers of its own setting.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DG="${DG:-double_gauss_50mm_F1.8}"
MODES="${MODES:-no fixed onthefly}"
SETTINGS="${SETTINGS:-clean noisy_aberrated}"
for ds in $DATASETS; do
  ensure_dataset "$ds"
  for setting in $SETTINGS; do
    if [ "$setting" = clean ]; then psf=None; npe=0; else psf="$DG"; npe=1000; fi
    say "Tables VI/VII: data of $ds, $setting"
    generate "$ds" "$psf" "$npe" png
    for m in $METHODS; do
      for mode in $MODES; do
        say "Tables VI/VII: $m, $mode metamers, $setting, $ds"
        root="$RESULTS/table6_7/train"
        case "$mode" in
          no) loss=mrae; extra="--data_join standard" ;;
          *) loss=l1; extra="" ;;
        esac
        [ "$SCALE" = quick ] && loss=l1
        driver="$HSI_ROOT/scripts/train_RGB2HS_${mode}_metamer.sh"
        vars=(DATASET_NAME="$ds" METHOD="$m" PSF_NAME="$psf" NPE="$npe" RGB_FORMAT=png LOSS_FUNC="$loss"
              RESULT_ROOT="$root" TRAIN_ARGS="$extra")
        env "${vars[@]}" "$driver"
        run="$(run_dir_of "$driver" "${vars[@]}")"
        for kind in original metamer; do
          validate_on "$ds" "$m" "$(best_ckpt "$run")" "$psf" "$npe" png "$kind" \
            "table6_7/${mode}_${setting}_${kind}" "$RESULTS/table6_7/${mode}_${setting}_${kind}"
        done
      done
    done
  done
done
say "Tables VI/VII done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
