"""Supervised fine-tuning of the VLA policies on scripted LIBERO demonstrations with images (CPU, tiny models).

Collects K scripted-expert demonstrations of one libero_spatial task with both cameras (``python -m
vlarl_libero.collect``, LIBERO's HDF5 layout), SFTs a tiny random-init OpenVLA-OFT (L1 head, LoRA, proprio) and a
tiny random-init GR00T N1.5 (flow matching; its embodiment's statistics computed from the demos with the official
GR00T formulas) on them with ``vlarl sft``, then scores each on the demonstrated task with ``vlarl eval``
(deterministic, ``eval_episodes`` init states). Reports samples/s of training, the loss curve (PNG) and success.

    .venv/bin/python benchmarks/sft_vla.py                      # both models, ~a few minutes each on 2 cores
    .venv/bin/python benchmarks/sft_vla.py --models gr00t --steps 400 --demos 10

The GPU variant (real sizes, bf16): benchmarks/gpu_sft_vla.sh.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CAMERAS = ["agentview", "robot0_eye_in_hand"]


def collect(out: Path, task: int, demos: int, image_size: int, seed: int) -> float:
    if sorted(out.glob("*.hdf5")):
        return 0.0
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "vlarl_libero.collect", "--suite", "libero_spatial", "--task-ids", str(task),
           "--demos-per-task", str(demos), "--out", str(out), "--cameras", *CAMERAS, "--image-size", str(image_size),
           "--num-envs", "2", "--seed", str(seed)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def gr00t_entry(demos: Path) -> dict[str, Any]:
    """A metadata.json entry for LIBERO (x, rot, gripper keys) with statistics of the demos (GR00T's formulas)."""
    from vlarl_lerobot.gr00t_metadata import column_statistics
    from vlarl_libero_hdf5.dataset import LiberoHDF5Dataset
    from vlarl_libero_hdf5.register import LiberoHDF5Config

    ds = LiberoHDF5Dataset(LiberoHDF5Config(paths=[str(demos)]))
    batch = ds.get_batch(np.arange(len(ds)), 1)
    states, actions = np.asarray(batch.observations["states"]), batch.actions[:, 0]
    groups = {"state": (states, {"x": (0, 3), "rot": (3, 6), "gripper": (6, 8)}),
              "action": (actions, {"x": (0, 3), "rot": (3, 6), "gripper": (6, 7)})}  # fmt: skip
    entry: dict[str, Any] = {"statistics": {}, "modalities": {"video": {
        "image": {"resolution": [0, 0], "channels": 3, "fps": 20.0},
        "wrist_image": {"resolution": [0, 0], "channels": 3, "fps": 20.0}}}}  # fmt: skip
    for kind, (x, keys) in groups.items():
        stats = column_statistics(x)
        entry["statistics"][kind] = {k: {s: v[a:b] for s, v in stats.items()} for k, (a, b) in keys.items()}
        entry["modalities"][kind] = {k: {"absolute": True, "rotation_type": None, "shape": [b - a], "continuous": True}
                                     for k, (a, b) in keys.items()}  # fmt: skip
    return {**entry, "embodiment_tag": "libero_franka", "embodiment_id": 1}


def policy_section(model: str, demos: Path, args: argparse.Namespace) -> dict[str, Any]:
    where = {"dtype": args.dtype, "device": args.device}
    if model == "openvla_oft":
        return {"name": "openvla_oft", "preset": args.oft_preset, **where, "action_head": "l1", "action_chunk": 8, "num_images": 2,
                "use_proprio": True, "gripper_postprocess": "openvla", "image_aug": True, "use_lora": True,
                "lora_rank": 8 if args.oft_preset == "tiny" else 32, "resize_method": "bicubic", "value_head": False}  # fmt: skip
    return {"name": "gr00t", "preset": args.gr00t_preset, **where, "embodiment_tag": "libero_franka",
            "embodiments": {"libero_franka": gr00t_entry(demos)}, "num_action_chunks": 8, "denoising_steps": 4,
            "max_text_tokens": 32, "rl_head_config": {"add_value_head": False}}  # fmt: skip


def run_model(model: str, args: argparse.Namespace, demos: Path) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from vlarl.runner.evaluate import evaluate
    from vlarl.runner.sft import sft

    policy = policy_section(model, demos, args)
    runner = {"logger": {"log_path": str(args.out / "runs"), "experiment_name": model}, "seed": args.seed,
              "device": args.device,
              "torch_threads": args.threads, "eval_episodes": args.eval_episodes}  # fmt: skip
    cfg = OmegaConf.create({
        "dataset": {"name": "libero_hdf5", "paths": [str(demos)], "cameras": CAMERAS},
        "policy": policy,
        "sft": {"max_steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                "save_interval": args.steps, "log_interval": 5},
        "runner": runner,
    })  # fmt: skip
    t0 = time.perf_counter()
    summary = sft(cfg)
    seconds = time.perf_counter() - t0
    rows = [json.loads(line) for line in (summary.run_dir / "metrics.jsonl").read_text().splitlines()]
    result = {"model": model, "preset": policy["preset"], "dtype": args.dtype, "sft_seconds": seconds,
              "samples_per_s": args.steps * args.batch_size / seconds, "loss": [(r["step"], r["sft/loss"]) for r in rows]}  # fmt: skip
    if args.eval_episodes == 0:
        return result
    env = {"name": "libero", "suite": "libero_spatial", "task_ids": [args.task], "num_envs": 2, "num_workers": 2,
           "cameras": CAMERAS, "image_size": args.image_size}  # fmt: skip
    eval_cfg = OmegaConf.create({
        "env": env, "policy": {**policy, "init_checkpoint": str(summary.run_dir)}, "algorithm": {"name": "ppo"},
        "runner": {**runner, "logger": {**runner["logger"], "experiment_name": f"{model}_eval"}},
    })  # fmt: skip
    t1 = time.perf_counter()
    ev = evaluate(eval_cfg)
    return {**result, "eval": ev["overall"], "eval_minutes": (time.perf_counter() - t1) / 60}


def plot(results: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, r in zip(axes[0], results):
        steps, loss = zip(*r["loss"])
        ax.plot(steps, loss)
        ax.set_title(f"{r['model']}: SFT loss ({r['samples_per_s']:.1f} samples/s)")
        ax.set_xlabel("step")
        ax.set_ylabel("sft/loss")
        ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["openvla_oft", "gr00t"], choices=["openvla_oft", "gr00t"])
    p.add_argument("--task", type=int, default=0)
    p.add_argument("--demos", type=int, default=5)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-episodes", type=int, default=10, help="init states scored after SFT; 0: no eval")
    p.add_argument("--oft-preset", default="tiny", help="tiny (CPU) or 7b")
    p.add_argument("--gr00t-preset", default="tiny", help="tiny (CPU) or 3b")
    p.add_argument("--dtype", default="float32", help="float32 or bfloat16")
    p.add_argument("--device", default="cpu")
    p.add_argument("--tag", default="", help="suffix of the results files (e.g. _gpu)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "sft_vla")
    args = p.parse_args()
    demos = args.out / "demos"
    collect_s = collect(demos, args.task, args.demos, args.image_size, args.seed)
    results = [run_model(m, args, demos) for m in args.models]
    out = {"settings": {k: str(v) for k, v in vars(args).items()}, "collect_seconds": collect_s, "results": results}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    res_path = ROOT / "benchmarks" / "results" / f"sft_vla{args.tag}.json"
    res_path.write_text(json.dumps(out, indent=2))
    png = plot(results, ROOT / "benchmarks" / "results" / f"sft_vla{args.tag}.png")
    for r in results:
        if "eval" not in r:
            print(f"{r['model']} ({r['preset']}, {r['dtype']}): {r['samples_per_s']:.1f} samples/s")
            continue
        e = r["eval"]
        lo, hi = e["success_ci95"]
        print(f"{r['model']}: {r['samples_per_s']:.1f} samples/s, loss {r['loss'][0][1]:.3f} -> {r['loss'][-1][1]:.3f}, "
              f"success {e['success_rate']:.0%} [{lo:.0%}, {hi:.0%}] (n={e['episodes']})")  # fmt: skip
    print(f"results: {res_path}\nplot: {png}")


if __name__ == "__main__":
    main()
