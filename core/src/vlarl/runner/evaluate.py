"""``vlarl eval CONFIG checkpoint=PATH``: success per task and overall, as a table and as JSON.

Evaluation runs in rounds: every sub-env is reset, and only its *first*
episode of the round counts (later, shorter episodes would bias the rate).
Which episodes count is decided at the reset, in sub-env order, never by which
ones end first. ``runner.eval_episodes``:

* ``null`` (the default): the env's protocol. An env that declares
  ``num_reset_states`` (LIBERO: the init states of its selected tasks) plays
  every reset state exactly once; other envs play ``DEFAULT_EPISODES`` per task.
* ``N``: exactly N episodes per task. With reset states these are the first N
  states of each task in the env's seed order (LIBERO: init states 0..N-1),
  cycling through them again when N exceeds a task's count.

Success rates come with a 95% Wilson confidence interval.
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
from vlarl.runner.progress import TrainingProgress
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


DEFAULT_EPISODES = 10  # episodes per task when runner.eval_episodes is null and the env has no reset states


class _Quota:
    """Which sub-envs of a round count: the next ones of the protocol's pass, or per task up to N."""

    def __init__(self, env: Any, episodes_per_task: int | None) -> None:
        self.states = getattr(env, "num_reset_states", None) or None
        self.per_task = episodes_per_task if episodes_per_task is not None or self.states else DEFAULT_EPISODES
        # The tasks to fill: with reset states, those the env declares (each has states in every pass);
        # otherwise only those seen so far, as an env that samples tasks may never draw a declared one.
        self.known = set(getattr(env.observation_spec, "tasks", None) or ()) if self.states else set()
        self.assigned: dict[str, int] = defaultdict(int)
        self.played = 0  # sub-env resets so far (with reset states: the seed of the next one)

    def seed(self, base_seed: int, rnd: int, num_envs: int) -> int:
        # With reset states, sub-env i of round r plays state r*N + i: the env's seed order, no state skipped.
        return rnd * num_envs if self.states else base_seed + rnd

    def counted(self, tasks: list[str]) -> np.ndarray:
        """Per sub-env of this round: does its first episode count?"""
        take = np.zeros(len(tasks), dtype=bool)
        for i, task in enumerate(tasks):
            if self.per_task is None:
                take[i] = self.played + i < self.states  # type: ignore[operator]
            elif self.assigned[task] < self.per_task:
                self.assigned[task] += 1
                take[i] = True
        self.played += len(tasks)
        return take

    def expected(self) -> int:
        """Episodes the evaluation will count, as far as known before it starts (for the progress bar)."""
        if self.per_task is None:
            return int(self.states)  # type: ignore[arg-type]
        return self.per_task * max(1, len(self.known))

    def done(self) -> bool:
        if self.per_task is None:
            return self.played >= self.states  # type: ignore[operator]
        if self.states and self.played >= self.states * self.per_task:
            return True  # N passes give N episodes to every task that has states (bounds a task never drawn)
        tasks = self.known | set(self.assigned)
        return bool(tasks) and all(self.assigned[t] >= self.per_task for t in tasks)


def run_rounds(
    env: Any,
    policy: Any,
    episodes_per_task: int | None,
    deterministic: bool,
    seed: int,
    max_rounds: int = 1000,
    show_progress: bool = False,
) -> dict[str, list[dict[str, float]]]:
    """Per task description, the metrics of each counted episode (see the module docstring for which count).

    ``show_progress``: a bar of counted episodes and their success so far (a line per round off a terminal).
    """
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    quota = _Quota(env, episodes_per_task)
    progress = TrainingProgress(quota.expected(), 0, label="eval") if show_progress else None
    try:
        _play_rounds(env, policy, deterministic, seed, max_rounds, quota, results, progress)
    finally:
        if progress is not None:
            progress.close()
    return dict(results)


def _play_rounds(
    env: Any, policy: Any, deterministic: bool, seed: int, max_rounds: int, quota: _Quota,
    results: dict[str, list[dict[str, float]]], progress: TrainingProgress | None,
) -> None:  # fmt: skip
    chunk_cap = math.ceil(env.max_episode_steps / max(policy.action_chunk, 1)) + 1
    hold = getattr(env, "set_idle", None)  # envs that can stop simulating sub-envs that no longer count
    for rnd in range(max_rounds):
        round_seed = quota.seed(seed, rnd, env.num_envs)
        obs, _ = env.reset(seed=round_seed)
        tasks = list(obs["task_descriptions"])
        pending = quota.counted(tasks)
        for _ in range(chunk_cap):
            if not pending.any():
                break
            if hold is not None:
                hold(~pending)
            with torch.no_grad():
                act = policy.act(obs, deterministic=deterministic)
            step = env.chunk_step(to_env_actions(env, policy, act.actions))
            done = _np(step.infos["done"]) & pending
            ep = {k: _np(v) for k, v in step.infos["episode"].items()}
            for i in np.flatnonzero(done):
                row = {k: float(v[i]) for k, v in ep.items()}
                if quota.states:  # its place in the env's reset-state order (LIBERO, one task: the init state id)
                    row["reset_index"] = float((round_seed + i) % quota.states)
                results[tasks[i]].append(row)
            pending &= ~done
            obs = step.observations
        if progress is not None:
            episodes = [e for eps in results.values() for e in eps]
            wins = sum(e["success_once"] > 0 for e in episodes)
            progress.update(len(episodes) - 1, {"env/success_once": wins / max(len(episodes), 1)}, print_line=True)
        if quota.done():
            break


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
        results = run_rounds(
            env, policy, spec.runner.eval_episodes, spec.runner.deterministic_eval, spec.runner.seed,
            show_progress=True,
        )  # fmt: skip
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
