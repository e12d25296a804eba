#!/usr/bin/env bash
# GPU variant of benchmarks/sft_vla.py: SFT throughput of the real-size architectures in bf16 (random init: no
# weights are downloaded), OpenVLA-OFT 7b (L1 head, LoRA r32 as the official recipe, 224 px, batch 8) and
# GR00T N1.5 3b (tune_projector + tune_diffusion_model, batch 32), on the same scripted LIBERO demos.
# Success after SFT is not scored here (random-init 7b/3b models after a few steps reach nothing).
#   bash benchmarks/gpu_sft_vla.sh            # both presets; STEPS=20 by default
#   MODELS=gr00t bash benchmarks/gpu_sft_vla.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-20}
MODELS=${MODELS:-"openvla_oft gr00t"}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for model in $MODELS; do
  if [ "$model" = openvla_oft ]; then batch=8; else batch=32; fi
  "$PY" benchmarks/sft_vla.py --models "$model" --oft-preset 7b --gr00t-preset 3b --dtype bfloat16 --device cuda \
    --image-size 224 --demos 3 --steps "$STEPS" --batch-size "$batch" --lr 1e-4 --eval-episodes 0 --threads 8 \
    --tag "_gpu_${model}" --out runs/sft_vla_gpu
done
