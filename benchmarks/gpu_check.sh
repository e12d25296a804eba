#!/usr/bin/env bash
# NCCL FSDP2 on every visible GPU with the OpenVLA-OFT 7b preset: tokens/s and peak memory per rank.
#   bash benchmarks/gpu_check.sh [steps=5] [batch_per_rank=2]
# Run from the repository root after scripts/install.sh, on a machine with NVIDIA GPUs (80 GB class for 7B).
# Weights are random (no download): the 7b preset is built on the meta device, sharded with fully_shard
# (one unit per Llama decoder layer and ViT block, bf16 compute, float32 reduction), then materialized
# shard by shard on the GPUs. Each step is the PPO update's work: evaluate() forward + backward + Adam.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-5}
BATCH=${2:-2}
NGPU=$(nvidia-smi -L | wc -l)
if [ "$NGPU" -lt 1 ]; then echo "no GPU visible" >&2; exit 1; fi
echo "GPUs: $NGPU ($(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1))"
exec .venv/bin/torchrun --standalone --nproc_per_node="$NGPU" - "$STEPS" "$BATCH" <<'PY'
import os, sys, time
import torch, torch.distributed as dist
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method
from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl.testing.synth import synthetic_obs
from vlarl_openvla_oft.policy import make
from vlarl_openvla_oft.register import OpenVLAOFTConfig
from vlarl_openvla_oft.prismatic import rebuild_rotary_embeddings

steps, batch = int(sys.argv[1]), int(sys.argv[2])
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
dist.init_process_group("nccl")
device = torch.device("cuda", torch.cuda.current_device())
obs_spec = ObservationSpec(states=(8,), images=(3, 224, 224), wrist_images=(3, 224, 224))
policy = make(OpenVLAOFTConfig(preset="7b", device="cuda"), observation_spec=obs_spec, action_spec=ActionSpec.box(7))
mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
for m in list(policy.modules())[1:]:
    if type(m).__name__ in ("LlamaDecoderLayer", "Block"):
        fully_shard(m, mp_policy=mp)
fully_shard(policy, mp_policy=mp)
register_fsdp_forward_method(policy, "evaluate")
register_fsdp_forward_method(policy, "act")
policy.to_empty(device=device)
with torch.no_grad():
    for name, p in policy.named_parameters():
        p.normal_(0.0, 0.02) if p.dim() > 1 else p.zero_()
    rebuild_rotary_embeddings(policy.model.language_model, device)
opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=1e-5)
torch.manual_seed(rank)
with torch.no_grad():
    replay = policy.act(synthetic_obs(obs_spec, batch, seed=rank)).replay
tokens = batch * int(next(v for k, v in replay.items() if v.dim() >= 2).shape[1])
torch.cuda.reset_peak_memory_stats()
times = []
for i in range(steps):
    torch.cuda.synchronize(); t0 = time.perf_counter()
    out = policy.evaluate(replay)
    loss = -(out.log_probs.float().mean()) + (0 if out.values is None else out.values.float().pow(2).mean())
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in policy.parameters() if p.requires_grad], 1.0)
    opt.step(); opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize(); times.append(time.perf_counter() - t0)
peak = torch.tensor([torch.cuda.max_memory_allocated() / 2**30], device=device)
dist.all_reduce(peak, op=dist.ReduceOp.MAX)
step = sorted(times[1:] or times)[len(times[1:] or times) // 2]
if rank == 0:
    print(f"FSDP2 NCCL, {world} GPUs, 7b preset, batch {batch}/rank: median step {step:.3f} s, "
          f"{world * batch / step:.2f} samples/s, ~{world * tokens / step:.0f} replay tokens/s, "
          f"peak memory {float(peak):.1f} GiB/rank (max over ranks)")
dist.destroy_process_group()
PY
