#!/usr/bin/env bash
# Shared settings of the shell drivers (sourced). Every variable can be set in the environment.
#   SCALE=quick   the experiment on the embedded SYNTH data, one method, few iterations, on the CPU
#   SCALE=paper   (default) the paper's scale on a CUDA GPU: four datasets, 17 methods, 300 000 iterations
#   GPUS="0"      GPUs to use; several ("0 1 2 3") train with DistributedDataParallel (torchrun)
set -euo pipefail
HSI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HSI_ROOT"
if [ -z "${PY:-}" ]; then
  if [ -x "$HSI_ROOT/.venv/bin/python" ]; then PY="$HSI_ROOT/.venv/bin/python"; else PY=python3; fi
fi
SCALE="${SCALE:-paper}"
ALL_METHODS="mst_plus_plus mst mirnet hinet mprnet restormer edsr hdnet hrnet hscnn_plus awan hysat ssthyper msfn hprn ssrnet gmsr"
case "$SCALE" in
  quick)
    : "${DATASET_PATH:=./datasets}" "${DATASETS:=SYNTH}" "${METHODS:=mst_plus_plus}"
    : "${NUM_EPOCHS:=1}" "${PER_EPOCH_ITERATION:=200}" "${BATCH_SIZE:=8}" "${CROP_SIZE:=64}" "${STRIDE:=16}"
    : "${VALID_FREQ:=50}" "${SAVE_FREQ:=100}" "${LOG_FREQ:=10}" "${RESULTS:=./results/quick}"
    : "${ENGINE_ARGS:=--device cpu --num_workers 0 --resume True}" "${GPUS:=}" ;;
  paper)
    : "${DATASET_PATH:=./datasets}" "${DATASETS:=ARAD_1K CAVE ICVL KAUST}" "${METHODS:=$ALL_METHODS}"
    : "${NUM_EPOCHS:=300}" "${PER_EPOCH_ITERATION:=1000}" "${BATCH_SIZE:=20}" "${CROP_SIZE:=128}" "${STRIDE:=8}"
    : "${VALID_FREQ:=1000}" "${SAVE_FREQ:=1000}" "${LOG_FREQ:=100}" "${RESULTS:=./results/paper}"
    : "${ENGINE_ARGS:=--resume True --num_workers 8}" "${GPUS:=0}" ;;
  *) echo "SCALE must be quick or paper (got '$SCALE')" >&2; exit 2 ;;
esac
export PY SCALE DATASET_PATH DATASETS METHODS NUM_EPOCHS PER_EPOCH_ITERATION BATCH_SIZE CROP_SIZE STRIDE
export VALID_FREQ SAVE_FREQ LOG_FREQ RESULTS ENGINE_ARGS GPUS

# LAUNCH: how training scripts are started (plain python, or torchrun over several GPUs)
ngpu=$(echo "$GPUS" | wc -w)
if [ "$ngpu" -gt 0 ]; then export CUDA_VISIBLE_DEVICES="$(echo "$GPUS" | tr ' ' ',')"; fi
if [ "$ngpu" -gt 1 ]; then
  LAUNCH="$PY -m torch.distributed.run --standalone --nproc_per_node=$ngpu"
else
  LAUNCH="$PY"
fi
export LAUNCH
# stages of jobs (LAUNCHER=local|parallel|slurm, MAX_PARALLEL, SLURM_*): scripts/lib_sweep.sh, docs/sweeps.md
source "$HSI_ROOT/scripts/lib_sweep.sh"

say() { printf '\n[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# layout_folder ROLE DATASET_DIR: a sub-folder of a dataset folder (spec, rgb, split, cache), named by hsi.layout
layout_folder() { "$PY" -m hsi.layout folder "$1" --dataset_dir "$2"; }

# run_dir_of DRIVER [VAR=VALUE...]: the run folder a training driver (train_RGB2HS_*.sh,
# train_vanilla_percent.sh) writes with these variables: the trainer names it (--print_run_dir True)
# (LAUNCHER=plan: a placeholder, no python)
run_dir_of() {
  local driver="$1"; shift
  if [ "$LAUNCHER" = plan ]; then printf 'planned:%s\n' "$(job_name "$(basename "$driver")" "$@")"; return; fi
  PRINT_RUN_DIR=True env "$@" "$driver" | tail -n 1
}

# plan_refuses WHAT: LAUNCHER=plan never trains: a trainer started outside a stage stops the plan
plan_refuses() { echo "error: LAUNCHER=plan: $1 would start outside a stage (queue it with stage_add or queue_training to plan it)" >&2; exit 2; }

# print_command WORD...: the command line as one JSON array (PRINT_COMMAND=True in the per-mode drivers)
print_command() { local IFS=,; local words=() w; for w in "$@"; do words+=("$(_sweep_json "$w")"); done; printf '[%s]\n' "${words[*]}"; }

# ensure_dataset NAME: the embedded SYNTH sets are built when missing; the others must be converted
ensure_dataset() {
  local name="$1"
  [ "$LAUNCHER" = plan ] && return 0   # a plan builds and checks nothing
  case "$name" in
    SYNTH) [ -d "$(layout_folder split "$DATASET_PATH/SYNTH")" ] || "$PY" ./dataset_tools/make_synthetic.py --dest_root "$DATASET_PATH/SYNTH" --no_progress ;;
    SYNTH_*) [ -d "$(layout_folder split "$DATASET_PATH/$name")" ] || "$PY" ./dataset_tools/make_synthetic.py --dest_root "$DATASET_PATH/$name" --seed "$(printf '%s' "$name" | cksum | cut -d' ' -f1)" --no_progress ;;
    *) if [ ! -d "$(layout_folder spec "$DATASET_PATH/$name")" ]; then
         echo "dataset $name not found in $DATASET_PATH/$name: convert it first (README: Datasets)" >&2; return 1
       fi ;;
  esac
}

# The helpers below queue jobs in the current stage of scripts/lib_sweep.sh (LAUNCHER=local: they run at
# once, one after another, as before). A driver runs its stages in order: generation (generate,
# baseline_data), training (queue_training, baseline_train), validation (validate_on with the checkpoint
# word of baseline_ckpt or run_ckpt). A job queued twice in one stage runs once.

# job_name TEXT...: a job (and log file) name from words: characters other than [A-Za-z0-9_.+-] become _
job_name() { local IFS=_; printf '%s' "$*" | tr -c 'A-Za-z0-9_.+-' '_'; }

# generate NAME PSF NPE FORMAT: queue the fixed metamer data (alpha 0); generate_metamers.py skips the
# complete scenes itself (no done file: a folder complete in png may still lack the jpg renderings)
generate() {
  local job; job="$(job_name gen "$1" "$2" "npe$3" "$4")"
  stage_has "$job" || stage_add "$job" - 0 -- env DATASET_NAME="$1" PSF_NAME="$2" NPE="$3" RGB_FORMAT="$4" \
    "$HSI_ROOT/scripts/generate_metamers.sh"
}

# best checkpoint of a training run folder (best.pth, else last.pth), now (the run has finished)
best_ckpt() { if [ -f "$1/best.pth" ]; then echo "$1/best.pth"; else echo "$1/last.pth"; fi; }

# run_ckpt RUN_DIR: the checkpoint word of a run queued in an earlier stage (resolved when the job starts)
run_ckpt() { echo "@ckpt:$1"; }

# queue_training JOB DRIVER VAR=VALUE...: queue one training of a per-mode driver (train_RGB2HS_*.sh,
# train_vanilla_percent.sh) with these variables; its run folder (named by the trainer, at queue time) is
# ${RUN_OF[JOB]} and in RUN; done when its summary.json says finished; resumed (--resume True) if not
declare -gA RUN_OF=()
queue_training() {
  local job="$1" driver="$2"; shift 2
  RUN="$(run_dir_of "$driver" "$@")"
  RUN_OF["$job"]="$RUN"
  stage_has "$job" || stage_add "$job" "$RUN/summary.json" 1 -- env "$@" "$driver"
}

# baseline_ckpt DATASET METHOD: the checkpoint of a network trained on DATASET without metamers.
# ARAD_1K: the MST++ model-zoo weights in $ZOO/<method>.pth when present, else the MST++ recipe on the
# official Train_RGB JPEGs (train_vanilla_percent.sh, 100 %). Other datasets (and SCALE=quick): the
# no-metamer trainer on noise-free PNG renderings (loss $BASELINE_LOSS). Three parts, one per stage:
# baseline_data DATASET (generation), baseline_train DATASET METHOD (training), baseline_ckpt DATASET
# METHOD (prints the zoo file or the run's checkpoint word, for validate_on).
: "${ZOO:=./RGB2HS/model_zoo}"
if [ "$SCALE" = quick ]; then : "${BASELINE_LOSS:=l1}"; else : "${BASELINE_LOSS:=mrae}"; fi
_baseline_recipe() {   # DATASET METHOD -> BASELINE_DRIVER, BASELINE_VARS (empty driver: the zoo file)
  local ds="$1" m="$2"
  BASELINE_DRIVER=""; BASELINE_VARS=()
  if [ "$ds" = ARAD_1K ] && [ -f "$ZOO/$m.pth" ]; then return; fi
  if [ "$ds" = ARAD_1K ] && [ -d "$(layout_folder rgb "$DATASET_PATH/$ds")" ]; then
    BASELINE_DRIVER="$HSI_ROOT/scripts/train_vanilla_percent.sh"
    BASELINE_VARS=(METHOD="$m" PERCENT=100 DATA_ROOT="$DATASET_PATH/$ds/" OUTF="$RESULTS/baselines/vanilla_${ds}_${m}")
  else
    BASELINE_DRIVER="$HSI_ROOT/scripts/train_RGB2HS_no_metamer.sh"
    BASELINE_VARS=(DATASET_NAME="$ds" METHOD="$m" PSF_NAME=None NPE=0 RGB_FORMAT=png LOSS_FUNC="$BASELINE_LOSS"
                   RESULT_ROOT="$RESULTS/baselines" TRAIN_ARGS="--data_join standard")
  fi
}
baseline_data() {
  local m
  for m in $METHODS; do
    _baseline_recipe "$1" "$m"
    if [ "$BASELINE_DRIVER" = "$HSI_ROOT/scripts/train_RGB2HS_no_metamer.sh" ]; then generate "$1" None 0 png; return; fi
  done
}
baseline_train() {
  _baseline_recipe "$1" "$2"
  if [ -n "$BASELINE_DRIVER" ]; then queue_training "$(job_name baseline "$1" "$2")" "$BASELINE_DRIVER" "${BASELINE_VARS[@]}"; fi
}
baseline_ckpt() {
  local job; job="$(job_name baseline "$1" "$2")"
  if [ -n "${RUN_OF[$job]:-}" ]; then run_ckpt "${RUN_OF[$job]}"; return; fi
  _baseline_recipe "$1" "$2"
  if [ -z "$BASELINE_DRIVER" ]; then echo "$ZOO/$2.pth"; return; fi
  run_ckpt "$(run_dir_of "$BASELINE_DRIVER" "${BASELINE_VARS[@]}")"
}

# validate_on DATASET METHOD CKPT PSF NPE FORMAT KIND TAG OUTDIR: queue one tagged validation (KIND
# original|metamer); CKPT a file or a checkpoint word (@ckpt:<run>); validate_RGB2HS.sh skips a checkpoint
# it has already validated (--skip_existing True), so the job has no done file
validate_on() {
  local metamer=False job; [ "$7" = metamer ] && metamer=True
  job="$(job_name valid "$8" "$1" "$2")"
  stage_has "$job" || stage_add "$job" - 0 -- env DATASET_NAME="$1" METHOD="$2" PRETRAINED_ROOT="$3" PSF_NAME="$4" \
    NPE="$5" RGB_FORMAT="$6" METAMER="$metamer" TAG="$8" RESULT_ROOT="$9" "$HSI_ROOT/scripts/validate_RGB2HS.sh"
}

# run_rgb2hs_trainer SCRIPT: one of the three RGB2HS trainers with the scale settings above and the
# variables of the per-mode drivers (RESULT_ROOT and LOSS_FUNC: set by each driver; the others default
# here: PSF_NAME, DATASET_NAME, METHOD, NOISE_TYPE, NPE, RGB_FORMAT, INIT_LR (empty: the method's
# learning rate), SEED, TRAIN_ARGS (more flags of SCRIPT)). PRINT_RUN_DIR=True: print the run folder only;
# PRINT_COMMAND=True: print the trainer's command line (JSON array, print_command) instead of running it.
run_rgb2hs_trainer() {
  : "${PSF_NAME:=None}" "${DATASET_NAME:=ARAD_1K}" "${METHOD:=mst_plus_plus}" "${NOISE_TYPE:=poisson}" "${NPE:=0}"
  : "${RGB_FORMAT:=png}" "${INIT_LR:=}" "${SEED:=0}" "${TRAIN_ARGS:=}"
  local args=(--psf_name "$PSF_NAME" --dataset_path "$DATASET_PATH" --dataset_name "$DATASET_NAME" --method "$METHOD"
    --result_root "$RESULT_ROOT" --noise_type "$NOISE_TYPE" --npe "$NPE" --rgb_format "$RGB_FORMAT"
    --loss_func "$LOSS_FUNC" --num_epochs "$NUM_EPOCHS" --per_epoch_iteration "$PER_EPOCH_ITERATION"
    --batch_size "$BATCH_SIZE" --crop_size "$CROP_SIZE" --stride "$STRIDE" --valid_freq "$VALID_FREQ"
    --save_freq "$SAVE_FREQ" --log_freq "$LOG_FREQ" --seed "$SEED")
  if [ -n "$INIT_LR" ]; then args+=(--init_lr "$INIT_LR"); fi
  if [ "${PRINT_RUN_DIR:-False}" = True ]; then
    "$PY" "./RGB2HS/$1" "${args[@]}" $ENGINE_ARGS $TRAIN_ARGS --print_run_dir True
  elif [ "${PRINT_COMMAND:-False}" = True ]; then
    print_command "$PY" "./RGB2HS/$1" "${args[@]}" $ENGINE_ARGS $TRAIN_ARGS
  elif [ "$LAUNCHER" = plan ]; then
    plan_refuses "$1"
  else
    $LAUNCH "./RGB2HS/$1" "${args[@]}" $ENGINE_ARGS $TRAIN_ARGS
  fi
}
