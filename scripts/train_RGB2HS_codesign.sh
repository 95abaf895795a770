#!/usr/bin/env bash
# Co-design: train a learnable DOE jointly with the network on on-the-fly metamers (RGB2HS/train_RGB2HS_codesign.py;
# docs/learned_optics.md). Needs only the dataset's cubes. Variables (environment): RESULT_ROOT, LOSS_FUNC
# below; DATASET_NAME, METHOD, NOISE_TYPE, NPE, INIT_LR, SEED, TRAIN_ARGS (the optics flags: --optics,
# --optics_init, --optics_lr, --doe_grid, ...): see run_rgb2hs_trainer in lib.sh.
RESULT_ROOT="${RESULT_ROOT:-./RGB2HS/train_exp_codesign}"
LOSS_FUNC="${LOSS_FUNC:-l1}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_rgb2hs_trainer train_RGB2HS_codesign.py
