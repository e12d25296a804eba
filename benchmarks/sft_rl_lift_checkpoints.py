"""Score the intermediate checkpoints of an sft_rl_lift run: a deterministic learning curve.

The training rollouts' success is noisy (a GRPO update sees 8 init states, drawn afresh each time), so the curve
that says whether RL is climbing is the evaluation protocol applied to the checkpoints a run saved on its way
(``runner.save_interval``): every init state once, deterministic, with a 95% Wilson interval. For each algorithm
of a results JSON written by ``benchmarks/sft_rl_lift.py`` this evaluates every saved checkpoint before the final
one (an evaluation already on disk is reused), stores them as ``checkpoint_evals`` in that JSON, and redraws its
plot, where they appear as points joined to the warm start and the final evaluation:

    .venv/bin/python benchmarks/sft_rl_lift_checkpoints.py benchmarks/results/sft_rl_lift_<variant>.json [--every 20]

Needs the run directories the JSON names (``<algo>.run_dir``). About 2.5 minutes per checkpoint on task 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sft_rl_lift_summary import ALGORITHMS


def saved_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(iterations, path) of every complete checkpoint under ``run_dir/checkpoints``, oldest first."""
    from vlarl.runner.checkpoint import complete_checkpoints, step_of

    return [(step_of(p), p) for p in complete_checkpoints(run_dir / "checkpoints")]


def env_steps_at(curve: dict[str, list[float]], iterations: int) -> int:
    """Env steps after ``iterations`` iterations: checkpoint step_N is written after the N-th metrics row."""
    steps = curve["env_steps"]
    if not 1 <= iterations <= len(steps):
        raise SystemExit(f"checkpoint after {iterations} iterations, but the run's curve has {len(steps)} rows")
    return int(steps[iterations - 1])


def eval_envs(config: Any) -> int:
    """Sub-envs of the evaluation: 10 as the benchmark's, or a multiple of a GRPO run's group size."""
    group = int(config.algorithm.get("group_size", 1) or 1) if config.algorithm.name == "grpo" else 1
    return 10 if 10 % group == 0 else group * max(1, 10 // group)


def score(run_dir: Path, iterations: int, checkpoint: Path) -> dict[str, Any]:
    """LIBERO's protocol on one checkpoint, with the run's own config; reuses an evaluation already written."""
    from vlarl.config import load_config
    from vlarl.runner.evaluate import evaluate

    name = f"{run_dir.name}_eval_step{iterations}"
    done = run_dir.parent / name / "eval" / "results.json"
    if done.is_file():
        return json.loads(done.read_text())
    config = load_config(run_dir / "config.yaml")  # the run's own: for its experiment name and group size
    experiment = f"{Path(config.runner.logger.experiment_name).parent}/{name}"
    overrides = [f"checkpoint={checkpoint}", f"runner.logger.experiment_name={experiment}",
                 f"env.num_envs={eval_envs(config)}"]  # fmt: skip
    if "num_workers" in config.env:  # LIBERO: the benchmark's two worker processes
        overrides.append("env.num_workers=2")
    return evaluate(load_config(run_dir / "config.yaml", overrides))


def add_checkpoint_evals(result: dict[str, Any], every: int | None = None) -> dict[str, Any]:
    """``result[algo]["checkpoint_evals"]`` for every algorithm whose run directory holds checkpoints.

    ``every``: score only the checkpoints after a multiple of that many iterations (a long run saves one per 10
    iterations, and each evaluation costs minutes); evaluations already on disk are reused either way."""
    for algo in ALGORITHMS:
        if algo not in result:
            continue
        entry = result[algo]
        run_dir = Path(entry["run_dir"])
        if not run_dir.is_dir():
            raise SystemExit(f"{algo}: run directory {run_dir} is gone; its checkpoints cannot be scored")
        final = entry["iterations"]
        evals = []
        for iterations, path in saved_checkpoints(run_dir):
            if iterations >= final:
                continue  # the final checkpoint is the run's own evaluation
            if every and iterations % every:
                continue
            summary = score(run_dir, iterations, path)
            env_steps = env_steps_at(entry["curve"], iterations)
            rate = summary["overall"]["success_rate"]
            print(f"{algo} after {iterations} iterations ({env_steps} env steps): {rate:.1%}", flush=True)
            evals.append({"iterations": iterations, "env_steps": env_steps, "eval": summary})
        entry["checkpoint_evals"] = evals
    return result


def main() -> None:
    from sft_rl_lift import plot

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, help="a results JSON of benchmarks/sft_rl_lift.py")
    p.add_argument("--every", type=int, default=None, metavar="N",
                   help="score only checkpoints after a multiple of N iterations (default: every saved one)")  # fmt: skip
    args = p.parse_args()
    if args.every is not None and args.every < 1:
        p.error(f"--every {args.every}: give a positive number of iterations, e.g. --every 20")
    path = args.results
    result = add_checkpoint_evals(json.loads(path.read_text()), args.every)
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {path}\nplot: {plot(result, path.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
