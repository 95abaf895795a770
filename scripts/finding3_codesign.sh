#!/usr/bin/env bash
# Finding 3 with a learned encoding: train a DOE jointly with each network on on-the-fly metamers
# (scripts/train_RGB2HS_codesign.sh), copy its best PSF to $PSF_DIR/learned_doe_<dataset>_<method>.npz
# (+ .json, and .png: the height map with the PSFs at a few wavelengths), generate the validation data
# through it, validate on originals and metamers (report column "learned_doe" of the Finding 3 table).
# Resumable: training resumes from last.pth, generation and validation skip finished work.
#   LAUNCHER=parallel|slurm: the runs of each stage at once (docs/sweeps.md)
# Variables (environment): SCALE (quick|paper, lib.sh), NPE_F3, OPTICS, OPTICS_INIT, OPTICS_LR, DOE_GRID,
# DOE_LEVELS, DOE_OVERSAMPLE, PSF_SIZE, SMOOTHNESS, CODESIGN_ARGS (more flags of the trainer), PSF_DIR,
# AMBIGUITY (1: the ambiguity measure of each learned PSF as well, a last stage; 0: not).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NPE_F3="${NPE_F3:-1000}"
OPTICS="${OPTICS:-doe}"
OPTICS_INIT="${OPTICS_INIT:-flat}"
OPTICS_LR="${OPTICS_LR:-1e-2}"
DOE_GRID="${DOE_GRID:-128}"
DOE_LEVELS="${DOE_LEVELS:-None}"
DOE_OVERSAMPLE="${DOE_OVERSAMPLE:-3}"
PSF_SIZE="${PSF_SIZE:-31}"
SMOOTHNESS="${SMOOTHNESS:-0}"
CODESIGN_ARGS="${CODESIGN_ARGS:-}"
AMBIGUITY="${AMBIGUITY:-1}"   # 1: also the ambiguity measure of each learned PSF (minutes per dataset on a CPU)
PSF_DIR="${PSF_DIR:-$RESULTS/finding3/learned_psfs}"
mkdir -p "$PSF_DIR"
for ds in $DATASETS; do ensure_dataset "$ds"; done
train_job() { job_name train_codesign "$1" "$2"; }
learned_psf() { echo "$PSF_DIR/learned_doe_$1_$2"; }    # DATASET METHOD -> the copied PSF, without .npz

say "Finding 3 (co-design): training ($OPTICS from $OPTICS_INIT)"
stage_begin training
for ds in $DATASETS; do
  for m in $METHODS; do
    queue_training "$(train_job "$ds" "$m")" "$HSI_ROOT/scripts/train_RGB2HS_codesign.sh" \
      DATASET_NAME="$ds" METHOD="$m" NPE="$NPE_F3" LOSS_FUNC=l1 RESULT_ROOT="$RESULTS/finding3/train_codesign" \
      TRAIN_ARGS="--optics $OPTICS --optics_init $OPTICS_INIT --optics_lr $OPTICS_LR --doe_grid $DOE_GRID --doe_levels $DOE_LEVELS --doe_oversample $DOE_OVERSAMPLE --psf_size $PSF_SIZE --smoothness $SMOOTHNESS $CODESIGN_ARGS"
  done
done
stage_end

say "Finding 3 (co-design): the learned PSFs and their figures"
for ds in $DATASETS; do
  for m in $METHODS; do
    run="${RUN_OF[$(train_job "$ds" "$m")]}"
    src="$("$PY" -m hsi.layout codesign_psf best --run_dir "$run")"
    [ -f "$src" ] || src="$("$PY" -m hsi.layout codesign_psf last --run_dir "$run")"
    psf="$(learned_psf "$ds" "$m")"
    if [ ! -f "$psf.npz" ] || [ "$src" -nt "$psf.npz" ]; then
      cp "$src" "$psf.npz.tmp" && cp "${src%.npz}.json" "$psf.json" && mv "$psf.npz.tmp" "$psf.npz"
    fi
    [ -f "$psf.png" ] && [ "$psf.png" -nt "$psf.npz" ] || "$PY" -c "import sys
from hsi.optics.learned import load_element, plot_element
plot_element(load_element(sys.argv[1]), sys.argv[2], title=sys.argv[3])" "$psf.npz" "$psf.png" "learned DOE ($ds, $m)"
  done
done

say "Finding 3 (co-design): data through the learned PSFs"
stage_begin generation
for ds in $DATASETS; do
  for m in $METHODS; do generate "$ds" "$(learned_psf "$ds" "$m").npz" "$NPE_F3" png; done
done
stage_end

say "Finding 3 (co-design): validation"
stage_begin validation
for ds in $DATASETS; do
  for m in $METHODS; do
    ckpt="$(run_ckpt "${RUN_OF[$(train_job "$ds" "$m")]}")"
    psf="$(learned_psf "$ds" "$m").npz"
    validate_on "$ds" "$m" "$ckpt" "$psf" "$NPE_F3" png metamer "finding3/learned_doe" "$RESULTS/finding3/metamer_learned_doe"
    validate_on "$ds" "$m" "$ckpt" "$psf" "$NPE_F3" png original "finding3_original/learned_doe" "$RESULTS/finding3/original_learned_doe"
  done
done
stage_end

if [ "$AMBIGUITY" = 1 ]; then
  say "Finding 3 (co-design): the ambiguity left by each learned PSF (metamer/ambiguity.py, the report's ambiguity row)"
  stage_begin ambiguity
  for ds in $DATASETS; do
    for m in $METHODS; do
      out="$RESULTS/finding3/ambiguity_learned_doe/${ds}_${m}"
      job="$(job_name ambiguity learned_doe "$ds" "$m")"
      stage_has "$job" || stage_add "$job" "$out/ambiguity.json" 0 -- "$PY" ./metamer/ambiguity.py \
        --dataset_path "$DATASET_PATH" --dataset_name "$ds" --psf_name "$(learned_psf "$ds" "$m").npz" \
        --figure_scenes 0 --out_dir "$out"
    done
  done
  stage_end
fi
say "Finding 3 (co-design) done; figures: $PSF_DIR/*.png; report: $PY ./scripts/report.py --results $RESULTS --out $RESULTS/report"
