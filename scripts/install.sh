#!/usr/bin/env bash
# Create .venv in the repository and install vlarl with every plugin in this repository (editable).
# Idempotent: re-running only installs what changed. Used by scripts/main.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip setuptools wheel

# CPU torch first: a bare `torch` requirement would otherwise pull a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${PIP[@]}" install "torch==${VLARL_TORCH_VERSION:-2.13.0}"
fi

# MuJoCo offscreen rendering for LIBERO (EGL, with OSMesa as fallback). Needs root and Debian/Ubuntu.
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  missing=()
  for pkg in libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libosmesa6 libglib2.0-0; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

# Core first (with the Ray backend and W&B logging, both exercised by the tests), then every plugin
# in the repository (each is its own distribution).
args=(-e "core[ray,wandb]")
for dir in plugins/*/*/; do
  [ -f "$dir/pyproject.toml" ] && args+=(-e "$dir")
done
"${PIP[@]}" install "${args[@]}" ${VLARL_EXTRA_PIP:-}
# matplotlib: the plots of benchmarks/ (the main job draws one).
"${PIP[@]}" install "pytest>=7" "pytest-timeout>=2" "ruff>=0.6" "setuptools>=77" "matplotlib>=3.7"
