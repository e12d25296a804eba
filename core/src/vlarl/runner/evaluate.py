"""``vlarl eval CONFIG checkpoint=PATH``: success per task and overall, as a table and as JSON.

Evaluation runs in rounds: every sub-env is reset, and only its *first*
episode of the round counts (later, shorter episodes would bias the rate).
An env that declares ``num_reset_states`` (LIBERO: its tasks' init states) is
evaluated as its benchmark prescribes: every reset state once per pass, as many
passes as ``runner.eval_episodes`` per task needs. Other envs run rounds until
each task has ``runner.eval_episodes`` episodes. Success rates come with a 95%
Wilson confidence interval.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from vlarl.errors import ConfigError
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.context import build_env, build_policy, pick_device, run_dir, seed_everything
from vlarl.runner.rollout import to_env_actions
from vlarl.runner.setup import validate


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (sound at 0%, 100% and small n)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def run_rounds(
    env: Any, policy: Any, episodes_per_task: int, deterministic: bool, seed: int, max_rounds: int = 1000
) -> dict[str, list[dict[str, float]]]:
    """Per task description, the metrics of each counted episode."""
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    chunk_cap = math.ceil(env.max_episode_steps / max(policy.action_chunk, 1)) + 1
    states = getattr(env, "num_reset_states", None)
    total = None
    if states:
        tasks_known = len(getattr(env.observation_spec, "tasks", None) or ()) or 1
        total = states * max(1, math.ceil(episodes_per_task * tasks_known / states))
        max_rounds = math.ceil(total / env.num_envs)
    for rnd in range(max_rounds):
        # With reset states, sub-env i of round r plays state r*N + i: each state once per pass.
        obs, _ = env.reset(seed=rnd * env.num_envs if total else seed + rnd)
        tasks = list(obs["task_descriptions"])
        counted = np.zeros(env.num_envs, dtype=bool)
        if total is not None:
            counted[np.arange(env.num_envs) + rnd * env.num_envs >= total] = True  # past the last pass
        for _ in range(chunk_cap):
            with torch.no_grad():
                act = policy.act(obs, deterministic=deterministic)
            step = env.chunk_step(to_env_actions(env, policy, act.actions))
            done = _np(step.infos["done"]) & ~counted
            ep = {k: _np(v) for k, v in step.infos["episode"].items()}
            for i in np.flatnonzero(done):
                results[tasks[i]].append({k: float(v[i]) for k, v in ep.items()})
            counted |= done
            obs = step.observations
            if counted.all():
                break
        if total is None and results and min(len(v) for v in results.values()) >= episodes_per_task:
            break
    return dict(results)


def summarize(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    def rate(eps: list[dict[str, float]]) -> dict[str, Any]:
        wins = float(sum(e["success_once"] > 0 for e in eps))
        low, high = wilson_interval(wins, len(eps))
        return {"success_rate": wins / len(eps) if eps else 0.0, "success_ci95": [low, high]}

    per_task = {
        task: {
            "episodes": len(eps),
            **rate(eps),
            "success_at_end": float(np.mean([e["success_at_end"] for e in eps])),
            "return": float(np.mean([e["return"] for e in eps])),
            "episode_len": float(np.mean([e["episode_len"] for e in eps])),
        }
        for task, eps in sorted(results.items())
    }
    all_eps = [e for eps in results.values() for e in eps]
    overall = {
        "episodes": len(all_eps),
        **rate(all_eps),
        "task_mean_success_rate": float(np.mean([t["success_rate"] for t in per_task.values()])) if per_task else 0.0,
        "return": float(np.mean([e["return"] for e in all_eps])) if all_eps else 0.0,
    }
    return {"tasks": per_task, "overall": overall}


def table(summary: dict[str, Any]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    t = Table(title="evaluation")
    for col in ("task", "episodes", "success", "95% CI", "return", "episode len"):
        t.add_column(col, justify="left" if col == "task" else "right")

    def ci(m: dict[str, Any]) -> str:
        low, high = m["success_ci95"]
        return f"{low:.1%}-{high:.1%}"

    for task, m in summary["tasks"].items():
        t.add_row(
            task, str(m["episodes"]), f"{m['success_rate']:.1%}", ci(m), f"{m['return']:.2f}", f"{m['episode_len']:.1f}"
        )
    o = summary["overall"]
    t.add_row("[bold]overall", str(o["episodes"]), f"{o['success_rate']:.1%}", ci(o), f"{o['return']:.2f}", "")
    buf = StringIO()
    Console(file=buf, width=120).print(t)
    return buf.getvalue()


def _eval_weights(checkpoint: Any, root: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The checkpoint ``vlarl eval`` scores and its weights: ``checkpoint=PATH``; else (``auto`` or unset) the
    newest one under the run's checkpoints that reads, past damaged ones (each named in a warning)."""
    if checkpoint not in (None, "auto"):
        path = Path(str(checkpoint))
        return path, ckpt.read_weights(path)
    for path in reversed(ckpt.complete_checkpoints(root)):
        try:
            return path, ckpt.read_weights(path)
        except ckpt.CheckpointError as exc:
            print(f"warning: {exc.problem} Falling back to the previous checkpoint.", file=sys.stderr, flush=True)
    if checkpoint == "auto":
        raise ConfigError(
            f"checkpoint=auto found no readable checkpoint under {root}.",
            "Pass checkpoint=PATH of a step_XXXXXX directory.",
        )
    return None, None


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    checkpoint = cfg.get("checkpoint")
    spec = validate(cfg)
    seed_everything(spec.runner.seed)
    out_dir = run_dir(spec)
    path, weights = _eval_weights(checkpoint, out_dir / "checkpoints")
    if path is None:
        start = f"policy.init_checkpoint={spec.init_checkpoint}" if spec.init_checkpoint else "its random initialisation"
        print(
            f"note: no checkpoint given (checkpoint=PATH) and none under {out_dir / 'checkpoints'}: evaluating the "
            f"policy's initial weights ({start}).",
            file=sys.stderr,
            flush=True,
        )
    env = build_env(spec)
    try:
        policy = build_policy(spec, env, pick_device(spec.runner.device))  # from policy.init_checkpoint, if set
        if path is not None and weights is not None:
            ckpt.apply_weights(weights, policy, f"Checkpoint {path / 'model.safetensors'}", ckpt.SAME_POLICY_FIX)
        policy.eval()
        results = run_rounds(env, policy, spec.runner.eval_episodes, spec.runner.deterministic_eval, spec.runner.seed)
    finally:
        env.close()
    summary = summarize(results)
    summary["checkpoint"] = str(path) if path else None
    summary["weights"] = "checkpoint" if path else ("init_checkpoint" if spec.init_checkpoint else "initial")
    eval_dir = out_dir / "eval"
    eval_dir.mkdir(parents=True, exist_ok=True)
    (eval_dir / "results.json").write_text(json.dumps(summary, indent=2))
    print(table(summary))
    print(f"results: {eval_dir / 'results.json'}")
    return summary
