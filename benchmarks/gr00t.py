"""GR00T N1.5 policy: act and evaluate latency and peak memory.

CPU (default): tiny preset, float32.  GPU: ``--preset 3b --device cuda --dtype bfloat16``
(random weights; real sizes). Memory: peak RSS above the pre-batch RSS on CPU (VmHWM reset per batch), peak allocated on CUDA.

    .venv/bin/python benchmarks/gr00t.py --batches 1 8 32 --steps 4 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
import torch

from vlarl_gr00t.policy import build_policy
from vlarl_gr00t.register import Gr00tConfig, RLHeadConfig


def _entry(state_dim: int = 8, action_dim: int = 7) -> dict[str, Any]:
    def stats(n: int) -> dict[str, list[float]]:
        return {"min": [-1.0] * n, "max": [1.0] * n}

    return {
        "embodiment_id": 1,
        "modalities": {
            "video": {"video.image": {}, "video.wrist_image": {}},
            "state": {"state.all": {"shape": [state_dim]}},
            "action": {"action.all": {"shape": [action_dim]}},
        },
        "statistics": {"state": {"state.all": stats(state_dim)}, "action": {"action.all": stats(action_dim)}},
    }


def _obs(n: int, size: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "images": rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8),
        "wrist_images": rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8),
        "states": rng.normal(size=(n, 8)).astype(np.float32),
        "task_descriptions": ["put the bowl on the plate"] * n,
    }


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM (peak RSS) so each batch gets its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _time(fn: Any, repeats: int, device: str) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples), min(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--steps", type=int, default=4, help="denoising steps")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU")
    ap.add_argument("--method", default="flow_sde")
    ap.add_argument("--image-size", type=int, default=224, help="env image side (resized to the model's input)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Gr00tConfig(
        preset=args.preset,
        embodiment_tag="bench",
        embodiments={"bench": _entry()},
        num_action_chunks=5,
        denoising_steps=args.steps,
        rl_head_config=RLHeadConfig(noise_method=args.method, noise_level=0.5),
        device=args.device,
        dtype=args.dtype,
    )
    policy = build_policy(cfg, use_hooks=False)
    n_params = sum(p.numel() for p in policy.parameters())
    rows = []
    for n in args.batches:
        obs = _obs(n, args.image_size)
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        _reset_peak_rss()
        rss0 = _status_mb("VmRSS")
        act_med, act_min = _time(lambda obs=obs: policy.act(obs), args.repeats, args.device)
        replay = policy.act(obs).replay
        ev_med, ev_min = _time(
            lambda replay=replay: policy.evaluate(replay).log_probs.sum().backward(), args.repeats, args.device
        )
        policy.zero_grad(set_to_none=True)
        mem = (
            torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else _status_mb("VmHWM") - rss0
        )
        rows.append(
            {
                "batch": n,
                "act_ms": round(act_med, 2),
                "act_min_ms": round(act_min, 2),
                "evaluate_fwd_bwd_ms": round(ev_med, 2),
                "evaluate_min_ms": round(ev_min, 2),
                "peak_mem_mb": round(mem, 1),
            }
        )
    meta = {
        "preset": args.preset,
        "device": args.device,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "denoising_steps": args.steps,
        "method": args.method,
        "params": n_params,
        "torch": torch.__version__,
    }
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return
    print(" ".join(f"{k}={v}" for k, v in meta.items()))
    print(f"{'batch':>5} {'act ms (med/min)':>18} {'evaluate fwd+bwd ms (med/min)':>31} {'peak mem MB':>12}")
    for r in rows:
        print(
            f"{r['batch']:>5} {r['act_ms']:>9.1f}/{r['act_min_ms']:<8.1f} {r['evaluate_fwd_bwd_ms']:>15.1f}/{r['evaluate_min_ms']:<15.1f} {r['peak_mem_mb']:>12.1f}"
        )


if __name__ == "__main__":
    main()
