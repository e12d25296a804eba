"""``vlarl eval CONFIG checkpoint=PATH``: success per task and overall, as a table and as JSON.

Evaluation runs in rounds: every sub-env is reset, and only its *first*
episode of the round counts (later, shorter episodes would bias the rate).
Rounds repeat until each task has ``runner.eval_episodes`` episodes.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from vlarl.errors import ConfigError
from vlarl.runner.checkpoint import latest_checkpoint, load_weights
from vlarl.runner.context import build_env, build_policy, pick_device, run_dir, seed_everything
from vlarl.runner.rollout import to_env_actions
from vlarl.runner.setup import validate


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def run_rounds(
    env: Any, policy: Any, episodes_per_task: int, deterministic: bool, seed: int, max_rounds: int = 1000
) -> dict[str, list[dict[str, float]]]:
    """Per task description, the metrics of each counted episode."""
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    chunk_cap = math.ceil(env.max_episode_steps / max(policy.action_chunk, 1)) + 1
    for rnd in range(max_rounds):
        obs, _ = env.reset(seed=seed + rnd)
        tasks = list(obs["task_descriptions"])
        counted = np.zeros(env.num_envs, dtype=bool)
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
        if results and min(len(v) for v in results.values()) >= episodes_per_task:
            break
    return dict(results)


def summarize(results: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    per_task = {
        task: {
            "episodes": len(eps),
            "success_rate": float(np.mean([e["success_once"] for e in eps])),
            "success_at_end": float(np.mean([e["success_at_end"] for e in eps])),
            "return": float(np.mean([e["return"] for e in eps])),
            "episode_len": float(np.mean([e["episode_len"] for e in eps])),
        }
        for task, eps in sorted(results.items())
    }
    all_eps = [e for eps in results.values() for e in eps]
    overall = {
        "episodes": len(all_eps),
        "success_rate": float(np.mean([e["success_once"] for e in all_eps])) if all_eps else 0.0,
        "task_mean_success_rate": float(np.mean([t["success_rate"] for t in per_task.values()])) if per_task else 0.0,
        "return": float(np.mean([e["return"] for e in all_eps])) if all_eps else 0.0,
    }
    return {"tasks": per_task, "overall": overall}


def table(summary: dict[str, Any]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    t = Table(title="evaluation")
    for col in ("task", "episodes", "success", "return", "episode len"):
        t.add_column(col, justify="left" if col == "task" else "right")
    for task, m in summary["tasks"].items():
        t.add_row(task, str(m["episodes"]), f"{m['success_rate']:.1%}", f"{m['return']:.2f}", f"{m['episode_len']:.1f}")
    o = summary["overall"]
    t.add_row("[bold]overall", str(o["episodes"]), f"{o['success_rate']:.1%}", f"{o['return']:.2f}", "")
    buf = StringIO()
    Console(file=buf, width=120).print(t)
    return buf.getvalue()


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    checkpoint = cfg.get("checkpoint")
    spec = validate(cfg)
    seed_everything(spec.runner.seed)
    out_dir = run_dir(spec)
    if checkpoint in (None, "auto"):
        found = latest_checkpoint(out_dir / "checkpoints")
        if checkpoint == "auto" and found is None:
            raise ConfigError(
                f"checkpoint=auto found no checkpoint under {out_dir / 'checkpoints'}.",
                "Pass checkpoint=PATH of a step_XXXXXX directory.",
            )
        path = found
    else:
        path = Path(str(checkpoint))
    env = build_env(spec)
    try:
        policy = build_policy(spec, env, pick_device(spec.runner.device))
        if path is not None:
            load_weights(path, policy)
        policy.eval()
        results = run_rounds(env, policy, spec.runner.eval_episodes, spec.runner.deterministic_eval, spec.runner.seed)
    finally:
        env.close()
    summary = summarize(results)
    summary["checkpoint"] = str(path) if path else None
    eval_dir = out_dir / "eval"
    eval_dir.mkdir(parents=True, exist_ok=True)
    (eval_dir / "results.json").write_text(json.dumps(summary, indent=2))
    print(table(summary))
    print(f"results: {eval_dir / 'results.json'}")
    return summary
