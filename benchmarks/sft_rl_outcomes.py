"""Which LIBERO init states a warm-started policy solves, at several exploration stds (diagnosis for RL).

RL from a warm start can only reinforce what its exploration finds: an init state that fails at every sampled
noise gives neither a critic nor a group baseline anything to work with. This plays every init state of the
task ``--passes`` times per std (the Gaussian's mean first, then samples at each ``--stds`` value) and reports,
per std, the success rate, how many states have mixed outcomes and the sum of p(1-p) over states (the variance
a group-relative or critic baseline can explain).

    .venv/bin/python benchmarks/sft_rl_outcomes.py --checkpoint runs/sft_rl_lift/task0/sft --stds 0.05 0.1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sft_rl_lift  # the benchmark's own config: same env, policy and demos


def per_state_success(env: Any, policy: Any, deterministic: bool, passes: int, seed: int) -> np.ndarray:
    """Fraction of ``passes`` over the env's reset states in which each state's episode succeeded."""
    from vlarl.runner.evaluate import run_rounds

    states = env.num_reset_states
    results = run_rounds(env, policy, passes * states, deterministic, seed, show_progress=True)
    wins = np.zeros(states)
    for episode in (e for eps in results.values() for e in eps):
        wins[int(episode["reset_index"])] += episode["success_once"] > 0
    return wins / passes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="an SFT run directory or checkpoint")
    p.add_argument("--task-id", type=int, default=0)
    p.add_argument("--stds", type=float, nargs="*", default=[0.05, 0.1])
    p.add_argument("--passes", type=int, default=2, help="sampled passes over the init states per std")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sft_rl_outcomes.json"))
    p.add_argument("overrides", nargs="*", help="extra config overrides (e.g. env.max_episode_steps=24)")
    args = p.parse_args()

    import torch

    from vlarl.runner.context import build_env, build_policy, seed_everything
    from vlarl.runner.setup import validate

    seed_everything(args.seed)
    base = [
        f"env.task_ids=[{args.task_id}]", "env.num_envs=10", "env.num_workers=2",
        f"policy.init_checkpoint={args.checkpoint}", "runner.logger.log_path=/tmp/vlarl_outcomes",
        *args.overrides,
    ]  # fmt: skip
    spec = validate(sft_rl_lift._config(base, []))
    env = build_env(spec)
    policy = build_policy(spec, env, torch.device("cpu"))
    rows = []
    try:
        for std in [None, *args.stds]:
            t0 = time.perf_counter()
            if std is not None:
                policy.log_std.data.fill_(math.log(std))
            probs = per_state_success(env, policy, std is None, 1 if std is None else args.passes, args.seed)
            row = {
                "std": std, "success": float(probs.mean()), "mixed_states": int(((probs > 0) & (probs < 1)).sum()),
                "sum_p_1_minus_p": float((probs * (1 - probs)).sum()), "per_state": probs.tolist(),
                "minutes": (time.perf_counter() - t0) / 60,
            }  # fmt: skip
            rows.append(row)
            label = "mean" if std is None else f"std {std}"
            print(f"{label}: success {row['success']:.1%}, {row['mixed_states']} of {len(probs)} states mixed, "
                  f"sum p(1-p) {row['sum_p_1_minus_p']:.2f} ({row['minutes']:.1f} min)", flush=True)  # fmt: skip
    finally:
        env.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"checkpoint": str(args.checkpoint), "task_id": args.task_id, "rows": rows}, indent=2))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
