"""OpenVLA-OFT policy benchmark: act / evaluate latency and peak memory, parallel vs autoregressive decoding.

CPU (default): tiny preset, batch 1, 8, 32, two 224x224 cameras (resized to the preset's input).
GPU (--device cuda): also the 7b preset in bf16 (random weights) at batch 8 and 64.
Usage: python benchmarks/openvla_oft.py [--batches 1 8 32] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl_openvla_oft.policy import make
from vlarl_openvla_oft.register import OpenVLAOFTConfig


def obs(n: int, size: int) -> dict:
    rng = np.random.default_rng(0)
    return {
        "images": rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8),
        "wrist_images": rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8),
        "states": rng.standard_normal((n, 8)).astype(np.float32),
        "task_descriptions": ["put both the alphabet soup and the tomato sauce in the basket"] * n,
    }


def peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (monotone)


def timed(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def run(preset: str, batches: list[int], repeats: int, device: str, dtype: str) -> None:
    spec = ObservationSpec(states=(8,), images=(3, 224, 224), wrist_images=(3, 224, 224))
    cfg = OpenVLAOFTConfig(preset=preset, device=device, dtype=dtype)
    policy = make(cfg, observation_spec=spec, action_spec=ActionSpec.box(7))
    if policy.is_meta:  # random real-size weights for timing only
        policy.to_empty(device=device)
    n_params = sum(p.numel() for p in policy.parameters())
    print(f"\n{preset} preset ({n_params / 1e6:.1f}M params, {dtype}, {device}), 2 cameras 224x224, C=8 A=7")
    print(
        "batch | act ms | evaluate ms (fwd+bwd) | actions/s (act) | peak MB | parallel ms | autoregressive ms | speed-up"
    )
    for n in batches:
        o = obs(n, 224)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        t_act = timed(lambda o=o: policy.act(o), repeats, device)
        replay = policy.act(o).replay

        def ev(replay=replay):
            policy.zero_grad(set_to_none=True)
            policy.evaluate(replay).log_probs.sum().backward()

        t_eval = timed(ev, repeats, device)
        mem = peak_mb(device)
        inp = policy._prepare(o)
        from vlarl_openvla_oft.preprocess import preprocess

        px = preprocess(inp["images"], policy.arch.image_sizes[0], policy.arch.means_stds)
        args = (px, inp["text_ids"], inp["text_mask"], inp.get("proprio"))
        with torch.no_grad():
            t_par = timed(lambda a=args: policy.model.action_logits(policy.model(*a)).argmax(-1), repeats, device)
            t_ar = timed(lambda a=args: policy.model.decode_autoregressive(*a), max(1, repeats // 2), device)
        steps = n * 8
        print(
            f"{n:5d} | {t_act * 1e3:6.0f} | {t_eval * 1e3:21.0f} | {steps / t_act:15.0f} | {mem:7.0f} | "
            f"{t_par * 1e3:11.0f} | {t_ar * 1e3:17.0f} | {t_ar / t_par:7.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    run("tiny", args.batches, args.repeats, args.device, "float32")
    if args.device.startswith("cuda"):
        run("7b", [8, 64], args.repeats, args.device, "bfloat16")


if __name__ == "__main__":
    main()
