#!/usr/bin/env bash
# Generate metamers and RGB renderings (the paper's generate_metamers.sh). Edit or set in the environment.
# Output: $DATASET_PATH/$DATASET_NAME/${NOISE_TYPE}${NPE}_${PSF_NAME}/ ; complete scenes are skipped.
PSF_NAME="${PSF_NAME:-None}"            # None, double_gauss_50mm_F1.8, grating, diffraction_rotation, ...
DATASET_PATH="${DATASET_PATH:-./datasets}"
DATASET_NAME="${DATASET_NAME:-ARAD_1K}" # ARAD_1K, CAVE, ICVL, KAUST, SYNTH
NOISE_TYPE="${NOISE_TYPE:-poisson}"
NPE="${NPE:-0}"
ALPHA="${ALPHA:-0.0}"
RGB_FORMAT="${RGB_FORMAT:-png}"         # png, jpg or all
METAMER_MODE="${METAMER_MODE:-clip}"    # clip (paper) or exact
GEN_ARGS="${GEN_ARGS:---no_progress}"   # more flags, e.g. --psf_boundary linear --quantize round
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$PY" ./metamer/generate_metamers.py --psf_name "$PSF_NAME" --dataset_path "$DATASET_PATH" \
  --dataset_name "$DATASET_NAME" --noise_type "$NOISE_TYPE" --npe "$NPE" --alpha "$ALPHA" \
  --rgb_format "$RGB_FORMAT" --metamer_mode "$METAMER_MODE" $GEN_ARGS
