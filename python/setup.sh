#!/usr/bin/env bash
# Creates the git-ignored virtual environment the tests run the PyTorch engine in:
# python/.venv with torch, numpy, safetensors, and onnx + onnxscript (torch's ONNX exporter, for
# `ttl export --format onnx`). Idempotent: a marker file records what was
# installed, and a second run with the same versions returns at once.
# The package itself is not installed: it runs from the source tree (`cd python` or
# PYTHONPATH=python, then `python -m ttl_torch …`), so the tests run what is checked out.
#
# torch 2.13.0 is pinned: on the project's CI machines pip takes its CPU build from the local
# disk (no download); elsewhere pip downloads it. torchvision is not installed: the engine's own
# model definitions carry the cut-point names, and it must work with torch alone. onnx and
# onnxscript are pinned to the versions the ONNX export was tested with.
#
# Environment:
#   TTL_PYTHON          the interpreter to create the environment with (default: python3)
#   TTL_TORCH_VENV      the environment's folder (default: python/.venv)
#   TTL_TORCH_REINSTALL=1  ignore the marker and install again
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${TTL_TORCH_VENV:-$HERE/.venv}"
PYTHON="${TTL_PYTHON:-python3}"
PACKAGES=(torch==2.13.0 numpy safetensors onnx==1.23.1 onnxscript==0.7.2)

log() { printf '[torch setup] %s\n' "$*" >&2; }

want="packages=${PACKAGES[*]} pyproject=$(sha256sum "$HERE/pyproject.toml" | cut -d' ' -f1)"
marker="$VENV/.ttl-installed"

# find_spec locates the packages without importing them (importing torch takes seconds).
if [[ "${TTL_TORCH_REINSTALL:-}" != 1 && -f "$marker" && "$(head -n1 "$marker")" == "$want" && -x "$VENV/bin/python" ]] &&
  "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ("torch", "numpy", "safetensors", "onnx", "onnxscript")) else 1)' 2>/dev/null; then
  exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "no Python interpreter '$PYTHON' on PATH; install Python >= 3.9 or set TTL_PYTHON"
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)'; then
  log "$("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])') is older than Python 3.9"
  exit 1
fi

rm -f "$marker"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
log "installing ${PACKAGES[*]} into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
"$VENV/bin/python" -c 'import torch, numpy, safetensors, onnx, onnxscript'
{
  echo "$want"
  "$VENV/bin/python" -c 'import torch, numpy, safetensors, onnx, onnxscript; print("torch", torch.__version__, "numpy", numpy.__version__, "safetensors", safetensors.__version__, "onnx", onnx.__version__, "onnxscript", onnxscript.__version__)'
} >"$marker"
log "installed: $(tail -n1 "$marker")"
