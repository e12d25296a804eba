"""Env steps/s of full training iterations: local vs Ray, rollout.pipeline_stage_num 1 vs 2.

    .venv/bin/python benchmarks/pipeline.py [--iterations 6 --rounds 3]

Workload: CartPole rendered to 64x64 images (the env step includes a real
render) and the mlp policy's CNN + 3x3072 MLP on those images, sized so
inference per chunk (~25 ms for 4 envs, one thread) is comparable to
simulation per chunk (~35 ms for 4 envs x 4 sub-steps; both vary with machine load). Rollout throughput is the median of
``env/steps_per_sec`` over iterations after the first (warm-up). Settings run
back to back in rounds, and ratios are taken within a round, so slow drifts of
machine load hit the compared settings alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from vlarl.config import load_config
from vlarl.runner.train import train

BASE = [
    "env.env_id=CartPole-v1", "env.num_envs=8", "env.render_images=true", "env.image_size=64",
    "policy.use_images=true", "policy.num_action_chunks=4", "policy.hidden_sizes=[3072,3072,3072]",
    "algorithm.update_epochs=1", "algorithm.num_minibatches=1",
    "rollout.n_chunks=16", "runner.save_interval=1000", "runner.torch_threads=1",
]  # fmt: skip

SETTINGS = {
    "local": ["cluster.backend=local"],
    "ray, 1 stage": ["cluster.backend=ray", "rollout.pipeline_stage_num=1", 'cluster.component_placement={"env,rollout,actor": all}'],
    "ray, 2 stages": ["cluster.backend=ray", "rollout.pipeline_stage_num=2", "cluster.component_placement={env: 0, rollout: 1, actor: 0-1}"],
}


def run(name: str, overrides: list[str], iterations: int, root: Path) -> dict[str, float]:
    example = Path(__file__).parents[1] / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
    cfg = load_config(example, [*BASE, *overrides, f"runner.max_epochs={iterations}", f"runner.logger.log_path={root}",
                                f"runner.logger.experiment_name={name.replace(' ', '_').replace(',', '')}"])  # fmt: skip
    summary = train(cfg)
    rows = [json.loads(line) for line in (summary.run_dir / "metrics.jsonl").read_text().splitlines()][1:]
    return {
        "steps_per_sec": statistics.median(r["env/steps_per_sec"] for r in rows),
        "best_steps_per_sec": max(r["env/steps_per_sec"] for r in rows),
        "rollout_s": statistics.median(r["time/rollout"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="each round runs every setting once, back to back")
    args = parser.parse_args()
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rounds.append({name: run(name, o, args.iterations, Path(tmp) / f"r{r}") for name, o in SETTINGS.items()})
    print("\n| setting | " + " | ".join(f"round {i + 1}: median (best) steps/s" for i in range(len(rounds))) + " |")
    print("|---|" + "---|" * len(rounds))
    for name in SETTINGS:
        cells = [f"{r[name]['steps_per_sec']:.0f} ({r[name]['best_steps_per_sec']:.0f})" for r in rounds]
        print(f"| {name} | " + " | ".join(cells) + " |")
    # Ratios within a round compare runs taken minutes apart, which machine-load drifts hit alike; the
    # best iteration of a run is the one least disturbed by other load on the machine.
    for stat in ("steps_per_sec", "best_steps_per_sec"):
        pipe = [r["ray, 2 stages"][stat] / r["ray, 1 stage"][stat] for r in rounds]
        over = [r["local"][stat] / r["ray, 1 stage"][stat] for r in rounds]
        label = "median iteration" if stat == "steps_per_sec" else "best iteration"
        print(f"\n{label}: pipelining (ray 2 stages / 1 stage) per round {', '.join(f'{x:.2f}x' for x in pipe)}, "
              f"median {statistics.median(pipe):.2f}x; Ray overhead (local / ray 1 stage) per round "
              f"{', '.join(f'{x:.2f}x' for x in over)}, median {statistics.median(over):.2f}x")

if __name__ == "__main__":
    main()
