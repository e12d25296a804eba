#!/usr/bin/env bash
# The main job: install everything, then the SFT -> RL story on the real LIBERO simulator (CPU, no GPU, no download):
# scripted demos, supervised warm start, evaluation, PPO, evaluation, a before/after table and a plot (13 min on 2 cores at 50 LIBERO steps/s).
# VLARL_MAIN_CONFIG=examples/<config>.yaml runs `vlarl train` on that config instead (extra arguments: overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -n "${VLARL_MAIN_CONFIG:-}" ]; then
  exec .venv/bin/vlarl train "$VLARL_MAIN_CONFIG" "$@"
fi
# Results go under runs/ (ignored by git): the committed figures in benchmarks/results stay as measured.
exec .venv/bin/python benchmarks/sft_rl_lift.py --setting quick --out runs/sft_rl_lift/results "$@"
