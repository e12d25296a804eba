"""Env steps/s of full training iterations: local vs Ray, rollout.pipeline_stage_num 1 vs 2.

    .venv/bin/python benchmarks/pipeline.py [--iterations 12 --rounds 3 --workload cnn|mlp]

Workload: 8 CartPole sub-envs rendered to 64x64 images (every sub-step renders)
and the mlp policy on those images. ``cnn`` (default): chunks of 8 actions, as
OpenVLA-OFT on LIBERO, and a wide CNN encoder whose inference for a stage
(~55 ms, 4 envs, one thread) is comparable to the stage's simulation (~60 ms).
Its cost is compute, as a VLA's on its GPU, so it barely slows a simulator
running beside it. ``mlp``: chunks of 4 and a 3x3072 MLP, whose cost is
streaming ~230 MB of weights per call; on a small VM that competes with the
simulation on the other vCPU for the shared cache and memory bandwidth (it
slowed a CartPole loop by 74% here), which caps what pipelining can gain.

Rollout throughput is the median of ``env/steps_per_sec`` over iterations after
the first (warm-up). Settings run back to back in rounds, and ratios are taken
within a round, so slow drifts of machine load hit the compared settings alike.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from pathlib import Path

from vlarl.config import load_config
from vlarl.runner.train import train

BASE = [
    "env.env_id=CartPole-v1", "env.num_envs=8", "env.render_images=true", "env.image_size=64",
    "policy.use_images=true", "algorithm.update_epochs=1", "algorithm.num_minibatches=1",
    "runner.save_interval=1000", "runner.torch_threads=1",
]  # fmt: skip
# Both rollouts are 512 env steps.
WORKLOADS = {
    "cnn": ["policy.num_action_chunks=8", "rollout.n_chunks=8", "policy.hidden_sizes=[256,256]", "policy.cnn_channels=[176,352,352]"],
    "mlp": ["policy.num_action_chunks=4", "rollout.n_chunks=16", "policy.hidden_sizes=[3072,3072,3072]"],
}

SEPARATE = "cluster.component_placement={env: 0, rollout: 1, actor: 0-1}"
SETTINGS = {
    "local": ["cluster.backend=local"],
    # Equal placement with the local process: simulation and inference share one core.
    "ray, 1 stage, env+rollout on core 0": ["cluster.backend=ray", "rollout.pipeline_stage_num=1", 'cluster.component_placement={"env,rollout": 0, actor: 0-1}'],
    # Pipelining is 2 stages against 1 at the same placement: only pipeline_stage_num differs.
    "ray, 1 stage, env 0 / rollout 1": ["cluster.backend=ray", "rollout.pipeline_stage_num=1", SEPARATE],
    "ray, 2 stages, env 0 / rollout 1": ["cluster.backend=ray", "rollout.pipeline_stage_num=2", SEPARATE],
}
OVERHEAD = ("local", "ray, 1 stage, env+rollout on core 0")
PIPELINING = ("ray, 2 stages, env 0 / rollout 1", "ray, 1 stage, env 0 / rollout 1")


def run(name: str, overrides: list[str], iterations: int, root: Path) -> dict[str, float]:
    example = Path(__file__).parents[1] / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
    slug = re.sub(r"\W+", "_", name)
    cfg = load_config(example, [*overrides, f"runner.max_epochs={iterations}", f"runner.logger.log_path={root}",
                                f"runner.logger.experiment_name={slug}"])  # fmt: skip
    summary = train(cfg)
    rows = [json.loads(line) for line in (summary.run_dir / "metrics.jsonl").read_text().splitlines()][1:]
    return {
        "steps_per_sec": statistics.median(r["env/steps_per_sec"] for r in rows),
        "best_steps_per_sec": max(r["env/steps_per_sec"] for r in rows),
        "rollout_s": statistics.median(r["time/rollout"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3, help="each round runs every setting once, back to back")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="cnn")
    args = parser.parse_args()
    base = [*BASE, *WORKLOADS[args.workload]]
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rounds.append({name: run(name, [*base, *o], args.iterations, Path(tmp) / f"r{r}") for name, o in SETTINGS.items()})
    print("\n| setting | " + " | ".join(f"round {i + 1}: median (best) steps/s" for i in range(len(rounds))) + " |")
    print("|---|" + "---|" * len(rounds))
    for name in SETTINGS:
        cells = [f"{r[name]['steps_per_sec']:.0f} ({r[name]['best_steps_per_sec']:.0f})" for r in rounds]
        print(f"| {name} | " + " | ".join(cells) + " |")
    # Ratios within a round compare runs taken minutes apart, which machine-load drifts hit alike; the
    # best iteration of a run is the one least disturbed by other load on the machine.
    for stat in ("steps_per_sec", "best_steps_per_sec"):
        pipe = [r[PIPELINING[0]][stat] / r[PIPELINING[1]][stat] for r in rounds]
        over = [r[OVERHEAD[0]][stat] / r[OVERHEAD[1]][stat] for r in rounds]
        label = "median iteration" if stat == "steps_per_sec" else "best iteration"
        print(f"\n{label}: pipelining (ray 2 stages / 1 stage) per round {', '.join(f'{x:.2f}x' for x in pipe)}, "
              f"median {statistics.median(pipe):.2f}x; Ray overhead (local / ray 1 stage at equal placement) per round "
              f"{', '.join(f'{x:.2f}x' for x in over)}, median {statistics.median(over):.2f}x")

if __name__ == "__main__":
    main()
