#!/usr/bin/env bash
# Validate a checkpoint on original or metamer data (the paper's validate_RGB2HS.sh).
PSF_NAME="${PSF_NAME:-None}"
DATASET_NAME="${DATASET_NAME:-ARAD_1K}"
METHOD="${METHOD:-mst_plus_plus}"
PRETRAINED_ROOT="${PRETRAINED_ROOT:-./RGB2HS/model_zoo/mst_plus_plus.pth}"   # a checkpoint file
RESULT_ROOT="${RESULT_ROOT:-./RGB2HS/validate_exp}"
METAMER="${METAMER:-False}"             # True: metamer data
NOISE_TYPE="${NOISE_TYPE:-poisson}"
NPE="${NPE:-0}"
RGB_FORMAT="${RGB_FORMAT:-png}"
TAG="${TAG:-}"                          # <table>/<column> for scripts/report.py
VALID_ARGS="${VALID_ARGS:---skip_existing True}"  # e.g. --save_recon True --border 128 --self_ensemble True
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
args=(--psf_name "$PSF_NAME" --dataset_path "$DATASET_PATH" --dataset_name "$DATASET_NAME" --method "$METHOD"
      --pretrained_root "$PRETRAINED_ROOT" --result_root "$RESULT_ROOT" --metamer "$METAMER"
      --noise_type "$NOISE_TYPE" --npe "$NPE" --rgb_format "$RGB_FORMAT")
[ -n "$TAG" ] && args+=(--tag "$TAG")
device_args=()
case " $ENGINE_ARGS " in *" --device cpu "*) device_args=(--device cpu) ;; esac
"$PY" ./RGB2HS/validate_RGB2HS.py "${args[@]}" "${device_args[@]}" $VALID_ARGS
