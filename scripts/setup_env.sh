#!/usr/bin/env bash
# Create .venv if absent and install the toolkit into it (sourced by demo.sh and test.sh).
#   HSI_TORCH=cpu   pinned CPU set-up (requirements-cpu.txt): CI and machines without a GPU
#   HSI_TORCH=cuda  CUDA set-up (requirements.txt): a researcher's GPU machine
#   HSI_TORCH=auto  (default) cuda when `nvidia-smi -L` lists a GPU, else cpu
#   HSI_VENV        virtual environment folder (default: <repo>/.venv); PYTHON: interpreter to create it
# Re-installs only when the requirement files or pyproject.toml change (hash stamp in the venv).
set -euo pipefail
HSI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HSI_VENV="${HSI_VENV:-$HSI_ROOT/.venv}"
mode="${HSI_TORCH:-auto}"
if [ "$mode" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then mode=cuda; else mode=cpu; fi
fi
case "$mode" in
  cpu) req="$HSI_ROOT/requirements-cpu.txt" ;;
  cuda) req="$HSI_ROOT/requirements.txt" ;;
  *) echo "HSI_TORCH must be cpu, cuda or auto (got '$mode')" >&2; exit 2 ;;
esac
if [ ! -x "$HSI_VENV/bin/python" ]; then
  py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python >= 3.11 is needed ($py is $("$py" -V 2>&1)); set PYTHON=/path/to/python3.11+" >&2; exit 2
  fi
  echo "[setup] creating $HSI_VENV with $("$py" -V 2>&1)"
  "$py" -m venv "$HSI_VENV"
fi
stamp="$HSI_VENV/.hsi-install-$mode"
want="$(cat "$req" "$HSI_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing the $mode set-up from $(basename "$req") (first time: a minute or two)"
  pip=("$HSI_VENV/bin/python" -m pip install --disable-pip-version-check -q)
  # torch first and pinned, so that nothing later can pull a different (multi-GB CUDA) build
  torch_req="$(grep -E '^torch([<>=! ]|$)' "$req" | head -n1)"
  "${pip[@]}" "$torch_req"
  "${pip[@]}" -r "$req"
  "${pip[@]}" --no-deps --no-build-isolation -e "$HSI_ROOT" 2>/dev/null || "${pip[@]}" --no-deps -e "$HSI_ROOT"
  echo "$want" > "$stamp"
fi
export HSI_ROOT HSI_VENV
HSI_PY="$HSI_VENV/bin/python"
export HSI_PY
