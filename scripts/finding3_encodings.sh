#!/usr/bin/env bash
# Finding 3: optical encodings in front of the sensor. For each PSF (none, the double Gauss lens, the
# grating, the diffraction-rotation encoder, the uncorrected singlet), train with on-the-fly metamers
# through that PSF (noise npe $NPE_F3) and validate on the originals and on the metamers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PSFS="${PSFS:-None double_gauss_50mm_F1.8 grating diffraction_rotation singlet_bk7_50mm_F5.6}"
NPE_F3="${NPE_F3:-1000}"
for ds in $DATASETS; do
  ensure_dataset "$ds"
  for psf in $PSFS; do
    col="$psf"; [ "$psf" = None ] && col=none
    say "Finding 3: $ds through $psf"
    generate "$ds" "$psf" "$NPE_F3" png
    for m in $METHODS; do
      root="$RESULTS/finding3/train"
      driver="$HSI_ROOT/scripts/train_RGB2HS_onthefly_metamer.sh"
      vars=(DATASET_NAME="$ds" METHOD="$m" PSF_NAME="$psf" NPE="$NPE_F3" RGB_FORMAT=png LOSS_FUNC=l1 RESULT_ROOT="$root")
      env "${vars[@]}" "$driver"
      ckpt="$(best_ckpt "$(run_dir_of "$driver" "${vars[@]}")")"
      validate_on "$ds" "$m" "$ckpt" "$psf" "$NPE_F3" png metamer "finding3/$col" "$RESULTS/finding3/metamer_$col"
      validate_on "$ds" "$m" "$ckpt" "$psf" "$NPE_F3" png original "finding3_original/$col" "$RESULTS/finding3/original_$col"
    done
  done
done
say "Finding 3 done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
