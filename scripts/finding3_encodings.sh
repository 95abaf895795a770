#!/usr/bin/env bash
# Finding 3: optical encodings in front of the sensor. For each PSF (none, the double Gauss lens, the
# grating, the diffraction-rotation encoder, the uncorrected singlet), train with on-the-fly metamers
# through that PSF (noise npe $NPE_F3) and validate on the originals and on the metamers.
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PSFS="${PSFS:-None double_gauss_50mm_F1.8 grating diffraction_rotation singlet_bk7_50mm_F5.6}"
NPE_F3="${NPE_F3:-1000}"
for ds in $DATASETS; do ensure_dataset "$ds"; done

say "Finding 3: data"
stage_begin generation
for ds in $DATASETS; do
  for psf in $PSFS; do generate "$ds" "$psf" "$NPE_F3" png; done
done
stage_end

say "Finding 3: training"
stage_begin training
for ds in $DATASETS; do
  for psf in $PSFS; do
    for m in $METHODS; do
      queue_training "$(job_name train "$ds" "$psf" "$m")" "$HSI_ROOT/scripts/train_RGB2HS_onthefly_metamer.sh" \
        DATASET_NAME="$ds" METHOD="$m" PSF_NAME="$psf" NPE="$NPE_F3" RGB_FORMAT=png LOSS_FUNC=l1 \
        RESULT_ROOT="$RESULTS/finding3/train"
    done
  done
done
stage_end

say "Finding 3: validation"
stage_begin validation
for ds in $DATASETS; do
  for psf in $PSFS; do
    col="$psf"; [ "$psf" = None ] && col=none
    for m in $METHODS; do
      ckpt="$(run_ckpt "${RUN_OF[$(job_name train "$ds" "$psf" "$m")]}")"
      validate_on "$ds" "$m" "$ckpt" "$psf" "$NPE_F3" png metamer "finding3/$col" "$RESULTS/finding3/metamer_$col"
      validate_on "$ds" "$m" "$ckpt" "$psf" "$NPE_F3" png original "finding3_original/$col" "$RESULTS/finding3/original_$col"
    done
  done
done
stage_end
say "Finding 3 done; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
