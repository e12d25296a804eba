#!/usr/bin/env bash
# The main job: install everything, then train a CNN policy with PPO on the real LIBERO simulator (CPU, no GPU, no download).
# Extra arguments are config overrides, e.g.  bash scripts/main.sh runner.max_epochs=5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
CONFIG=${VLARL_MAIN_CONFIG:-examples/libero_spatial_ppo_mlp.yaml}
exec .venv/bin/vlarl train "$CONFIG" "$@"
