#!/usr/bin/env bash
# Stages of a sweep for the per-table drivers (sourced, after lib.sh or with PY set). A stage is a list of
# independent jobs; the next stage starts when the previous one has ended:
#
#   stage_begin training
#   stage_add "$name" "$run/summary.json" 1 -- $LAUNCH ./RGB2HS/train_RGB2HS_no_metamer.py --method ... $ENGINE_ARGS
#   stage_end
#
#   LAUNCHER=local     (default) stage_add runs the job at once, output on the terminal (and in its log);
#                      a failure stops the driver (set -e): today's behaviour
#   LAUNCHER=parallel  stage_end runs the queued jobs at once, at most MAX_PARALLEL (default: one per GPU
#                      in GPUS), each with its own CUDA_VISIBLE_DEVICES
#   LAUNCHER=slurm     stage_end submits them as one SLURM job array through submitit (SLURM_PARTITION,
#                      SLURM_TIME, SLURM_GPUS_PER_JOB, SLURM_ARRAY_PARALLELISM, SLURM_EXTRA) and waits
#   LAUNCHER=plan      nothing runs: the jobs files list every job of every stage (lib.sh checks no
#                      dataset and names no run folder; bench/paper_cost.py reads the plan)
# stage_add NAME DONE_FILE RESUMABLE -- CMD...
#   NAME       unique in the stage; the log is $SWEEP_DIR/logs/<stage>/NAME.log
#   DONE_FILE  exists when the job has finished (a JSON file: with "finished"/"complete" true); the job is
#              skipped when it holds. "-": no done test (the job always runs; the tool skips its own work)
#   RESUMABLE  1 for trainings: "--resume True" is set on the command line
#   CMD        runs later under parallel/slurm: environment variables it needs go on its command line
#              (env VAR=value script.sh); a word @ckpt:<run folder> becomes the run's best.pth (else
#              last.pth) when the job starts, so validations can be queued before their training ran.
# A failed job stops the driver after its stage (the others of the stage finish first; LAUNCHER=local: at
# once, as today); SWEEP_KEEP_GOING=1
# goes on with the next stages (their jobs that need the failed one fail too). Re-running the driver runs
# only what is not done.
# Jobs files: $SWEEP_DIR/<stage>.jsonl (scripts/sweep_status.py reads them), SWEEP_DIR=$RESULTS/sweep.
# SWEEP_STOP_AFTER=<stage>: the driver ends (exit 0) after that stage, e.g. training (validate later).
if [ -z "${PY:-}" ]; then PY=python3; fi
HSI_ROOT="${HSI_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${LAUNCHER:=local}"
# a plan never overwrites the jobs files of a real sweep: its own folder unless SWEEP_DIR is set
if [ "$LAUNCHER" = plan ]; then : "${SWEEP_DIR:=${RESULTS:-./results}/sweep_plan}"; fi
: "${SWEEP_DIR:=${RESULTS:-./results}/sweep}"
case "$LAUNCHER" in
  local|parallel|slurm|plan) ;;
  *) echo "error: LAUNCHER must be local, parallel, slurm or plan (got '$LAUNCHER')" >&2; exit 2 ;;
esac
export LAUNCHER SWEEP_DIR
export PYTHONPATH="$HSI_ROOT${PYTHONPATH:+:$PYTHONPATH}"   # python -m hsi.sweep from any folder
# one run per GPU under parallel/slurm: the trainings start as plain python (torchrun inside a SLURM job
# only when it has several GPUs, SLURM_GPUS_PER_JOB > 1)
if [ "$LAUNCHER" != local ]; then
  if [ "$LAUNCHER" = slurm ] && [ "${SLURM_GPUS_PER_JOB:-1}" -gt 1 ]; then
    LAUNCH="$PY -m torch.distributed.run --standalone --nproc_per_node=$SLURM_GPUS_PER_JOB"
  else
    LAUNCH="$PY"
  fi
  export LAUNCH
fi

# _sweep_json WORD: WORD as a JSON string
_sweep_json() {
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\n'/\\n}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/\\r}"
  printf '"%s"' "$s"
}

# stage_begin NAME: start queueing the jobs of stage NAME (its jobs file is emptied)
stage_begin() {
  SWEEP_STAGE="$1"
  SWEEP_JOBS="$SWEEP_DIR/$SWEEP_STAGE.jsonl"
  mkdir -p "$SWEEP_DIR/logs/$SWEEP_STAGE"
  : > "$SWEEP_JOBS"
}

# stage_add NAME DONE_FILE RESUMABLE -- CMD...: queue one job (LAUNCHER=local: run it now)
stage_add() {
  if [ -z "${SWEEP_STAGE:-}" ]; then echo "error: stage_add before stage_begin" >&2; return 2; fi
  if [ "$#" -lt 5 ] || [ "$4" != "--" ]; then
    echo "error: usage: stage_add NAME DONE_FILE RESUMABLE -- CMD... (got: $*)" >&2; return 2
  fi
  local name="$1" done_file="$2" resumable="$3" log
  case "$name" in ""|*/*|.*) echo "error: stage_add: a job name is a file name (no '/', not empty), got '$name'" >&2; return 2 ;; esac
  shift 4
  [ "$done_file" = - ] && done_file=""
  log="$SWEEP_DIR/logs/$SWEEP_STAGE/$name.log"
  local argv="" word
  for word in "$@"; do argv="$argv${argv:+, }$(_sweep_json "$word")"; done
  printf '{"name": %s, "argv": [%s], "log": %s, "done_file": %s, "resumable": %s, "cwd": %s}\n' \
    "$(_sweep_json "$name")" "$argv" "$(_sweep_json "$log")" \
    "$([ -n "$done_file" ] && _sweep_json "$done_file" || echo null)" \
    "$(case "$resumable" in 1|True|true) echo true ;; *) echo false ;; esac)" "$(_sweep_json "$PWD")" >> "$SWEEP_JOBS"
  if [ "$LAUNCHER" = local ]; then
    "$PY" -m hsi.sweep exec --name "$name" --log "$log" --done_file "$done_file" --resumable "$resumable" -- "$@" \
      || [ "${SWEEP_KEEP_GOING:-0}" = 1 ]
  fi
}

# stage_has NAME: true when the current stage has queued a job NAME (helpers queue shared jobs once)
stage_has() { [ -n "${SWEEP_STAGE:-}" ] && grep -qF "{\"name\": $(_sweep_json "$1")," "$SWEEP_JOBS"; }

# stage_end: run the queued jobs (parallel/slurm); fails (set -e stops the driver) when a job failed
stage_end() {
  if [ -z "${SWEEP_STAGE:-}" ]; then echo "error: stage_end before stage_begin" >&2; return 2; fi
  local stage="$SWEEP_STAGE"
  SWEEP_STAGE=""
  if [ "$LAUNCHER" != local ] && [ "$LAUNCHER" != plan ] && [ -s "$SWEEP_JOBS" ]; then
    "$PY" -m hsi.sweep run --stage "$stage" --jobs "$SWEEP_JOBS" --log_dir "$SWEEP_DIR" \
      || [ "${SWEEP_KEEP_GOING:-0}" = 1 ]
  fi
  if [ "${SWEEP_STOP_AFTER:-}" = "$stage" ]; then exit 0; fi
}
