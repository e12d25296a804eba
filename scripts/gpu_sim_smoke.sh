#!/usr/bin/env bash
# Issue 19: run the real simulators through the vlarl adapters on a machine with an RTX GPU.
#
#   scripts/gpu_sim_smoke.sh [isaaclab|behavior|all]      (default: all)
#
# isaaclab: `vlarl check env isaaclab` on the stack-cube task (a few chunks of 4 sub-steps, 2 sub-envs) and
#           the plugin's real-simulator test; needs IsaacLab 2.3 (Python 3.11) or 3.0 (Python 3.12) with
#           Isaac Sim: pip install "vlarl-isaaclab[sim]" --extra-index-url https://pypi.nvidia.com
# behavior: `vlarl check env behavior` on turning_on_radio (2 envs in one worker) and the plugin's real test;
#           needs BEHAVIOR-1K's OmniGibson, ISAAC_PATH and OMNIGIBSON_DATA_PATH (with the 2025 challenge
#           task instances).
#
# Environment:
#   ISAACLAB_PYTHON   python of the venv holding IsaacLab + vlarl + vlarl-isaaclab     (default: python)
#   BEHAVIOR_PYTHON   python of the venv holding OmniGibson + vlarl + vlarl-behavior   (default: python)
#   ISAACLAB_DEVICE   simulation device of the IsaacLab env                            (default: cuda:0)
#   BEHAVIOR_1K_DIR   a BEHAVIOR-1K checkout: also compare its source with the fake (scripts/check_sim_api.py)
#   ALLOW_NON_RTX=1   start BEHAVIOR on GPUs without RT cores (A100/H100/H200: runs, renders blocky images)
#   OUT               log folder (default: runs/gpu_sim_smoke-<date>)
# Exit status: 0 when every step that could run passed; 1 if one failed; 2 if nothing could run.
set -uo pipefail
cd "$(dirname "$0")/.."

which_sim=${1:-all}
ISAACLAB_PYTHON=${ISAACLAB_PYTHON:-python}
BEHAVIOR_PYTHON=${BEHAVIOR_PYTHON:-python}
OUT=${OUT:-runs/gpu_sim_smoke-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE  # idle torch threads must not spin while simulator workers need the cores
ran=0
failed=0

step() {  # step NAME CMD... : run, log to $OUT/NAME.log, record the exit status
  local name=$1
  shift
  echo "== $name: $*"
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "$name rc=$rc" | tee -a "$OUT/summary.txt"
  ran=$((ran + 1))
  [ $rc -eq 0 ] || failed=$((failed + 1))
}

info() {  # info NAME CMD... : like step, but its status is only recorded (e.g. doctor lists every plugin)
  local name=$1
  shift
  echo "== $name (informational): $*"
  "$@" >"$OUT/$name.log" 2>&1
  echo "$name rc=$? (informational)" | tee -a "$OUT/summary.txt"
}

has_module() {  # has_module PYTHON MODULE
  "$1" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$2') is None)" 2>/dev/null
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" ||
  echo "nvidia-smi failed: no NVIDIA GPU visible" | tee "$OUT/gpu.txt"

if [ "$which_sim" = all ] || [ "$which_sim" = isaaclab ]; then
  if has_module "$ISAACLAB_PYTHON" isaaclab; then
    "$ISAACLAB_PYTHON" -m pip list 2>/dev/null | grep -Ei '^(isaaclab|isaacsim|vlarl)' >"$OUT/isaaclab_versions.txt"
    info isaaclab_doctor "$ISAACLAB_PYTHON" -m vlarl.cli doctor
    step isaaclab_check_env "$ISAACLAB_PYTHON" -m vlarl.cli check env isaaclab \
      task=Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0 num_envs=2 image_size=64 wrist_image_size=64 \
      max_episode_steps=16 device="${ISAACLAB_DEVICE:-cuda:0}" --chunk-len 4
    step isaaclab_real_test "$ISAACLAB_PYTHON" -m pytest plugins/envs/isaaclab/tests/test_isaaclab_worker.py \
      -k real_stack_cube -q -p no:cacheprovider
  else
    echo "isaaclab: not importable with $ISAACLAB_PYTHON (set ISAACLAB_PYTHON): skipped" | tee -a "$OUT/summary.txt"
  fi
fi

if [ "$which_sim" = all ] || [ "$which_sim" = behavior ]; then
  if has_module "$BEHAVIOR_PYTHON" omnigibson; then
    extra=()
    [ "${ALLOW_NON_RTX:-0}" = 1 ] && extra=(allow_non_rtx_gpu=true)
    info behavior_doctor "$BEHAVIOR_PYTHON" -m vlarl.cli doctor
    step behavior_check_env "$BEHAVIOR_PYTHON" -m vlarl.cli check env behavior activity_name=turning_on_radio \
      num_envs=2 envs_per_worker=2 max_episode_steps=16 image_size=64 "${extra[@]}" --chunk-len 4
    step behavior_real_test "$BEHAVIOR_PYTHON" -m pytest plugins/envs/behavior/tests/test_behavior_real_omnigibson.py \
      -q -p no:cacheprovider
    if [ -n "${BEHAVIOR_1K_DIR:-}" ]; then
      step behavior_source_check "$BEHAVIOR_PYTHON" scripts/check_sim_api.py --only behavior \
        --omnigibson-src "$BEHAVIOR_1K_DIR"
    fi
  else
    echo "behavior: omnigibson not importable with $BEHAVIOR_PYTHON (set BEHAVIOR_PYTHON): skipped" |
      tee -a "$OUT/summary.txt"
  fi
fi

echo "logs in $OUT (summary.txt)"
[ $ran -gt 0 ] || exit 2
[ $failed -eq 0 ] || exit 1
