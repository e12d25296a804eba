"""Collect one rollout of action chunks into a RolloutBuffer.

Shared by the local runner, the Ray rollout workers and the conformance kit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vlarl.contracts import observation as ob
from vlarl.contracts.buffer import RolloutBuffer
from vlarl.contracts.env import EPISODE_METRICS, ChunkedVectorEnv, ChunkStep
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy
from vlarl.contracts.spaces import ActionSpec, GripperConvention

ValueFn = Callable[[ObsBatch], "torch.Tensor | None"]


def convert_actions(actions: torch.Tensor, policy_gripper: GripperConvention, spec: ActionSpec, numpy: bool) -> Any:
    """Policy output -> env input: gripper sign conversion, and NumPy for CPU envs."""
    out: Any = actions.detach()
    if policy_gripper != spec.gripper and "none" not in (policy_gripper, spec.gripper):
        out = out.clone()
        out[..., spec.gripper_indices] *= -1.0
    return out.cpu().numpy() if numpy else out


def to_env_actions(env: ChunkedVectorEnv, policy: ChunkedPolicy, actions: torch.Tensor) -> Any:
    return convert_actions(actions, policy.gripper_convention, env.action_spec, getattr(env, "device", None) is None)


def scalar_values(values: torch.Tensor | None) -> torch.Tensor | None:
    """Critic output [N] or [N, C] -> the value of the current state, [N]."""
    if values is None:
        return None
    return values if values.ndim == 1 else values[:, 0]


def _as_bool(x: Any) -> np.ndarray:
    return x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@dataclass
class EpisodeLog:
    """Per-episode metrics of every episode that ended during a rollout."""

    metrics: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in EPISODE_METRICS})
    task_descriptions: list[str] = field(default_factory=list)

    def merge(self, other: EpisodeLog) -> None:
        for key, values in other.metrics.items():
            self.metrics[key].extend(values)
        self.task_descriptions.extend(other.task_descriptions)

    def add(self, step: ChunkStep, prev_obs: ObsBatch) -> None:
        done = _as_bool(step.infos["done"])
        if not done.any():
            return
        episode = step.infos["episode"]
        for key in EPISODE_METRICS:
            values = _as_bool(episode[key])
            self.metrics[key].extend(float(v) for v in values[done])
        self.task_descriptions.extend(d for d, is_done in zip(prev_obs["task_descriptions"], done) if is_done)

    @property
    def count(self) -> int:
        return len(self.metrics["episode_len"])

    def means(self) -> dict[str, float]:
        return {f"env/{k}": float(np.mean(v)) for k, v in self.metrics.items() if v}


class RolloutRecorder:
    """Turns (act, chunk step) pairs into buffer entries and episode metrics.

    Shared by the local loop below and the Ray backend's pipelined loop.
    """

    def __init__(self, predict_values: ValueFn | None, buffer: RolloutBuffer | None = None) -> None:
        """``predict_values``: the critic (None without one), to bootstrap truncated episodes."""
        self.buffer = buffer or RolloutBuffer("cpu")
        self.episodes = EpisodeLog()
        self.predict_values = predict_values

    def add(self, act: ActOutput, step: ChunkStep, obs_before: ObsBatch) -> None:
        bootstrap = None
        if self.predict_values is not None:
            truncated = _as_bool(step.truncations).any(axis=1)
            if truncated.any():
                final_values = scalar_values(self.predict_values(step.infos["final_observation"]))
                mask = torch.as_tensor(truncated, device=final_values.device)
                bootstrap = torch.where(mask, final_values, torch.zeros_like(final_values))
        self.buffer.add(act, step, bootstrap)
        self.episodes.add(step, obs_before)

    def finish(self, obs: ObsBatch, values: torch.Tensor | None = None) -> tuple[RolloutBuffer, EpisodeLog]:
        """``obs``: the observations after the last chunk; ``values``: their critic values when
        already computed (the Ray backend computes them while the rollout drains)."""
        if values is None and self.predict_values is not None:
            values = self.predict_values(obs)
        return self.buffer.finish(scalar_values(values)), self.episodes


def collect_rollout(
    env: ChunkedVectorEnv,
    policy: ChunkedPolicy,
    obs: ObsBatch,
    n_chunks: int,
    buffer: RolloutBuffer | None = None,
    deterministic: bool = False,
    on_chunk: Callable[[ChunkStep], None] | None = None,
) -> tuple[RolloutBuffer, ObsBatch, EpisodeLog]:
    """Run ``n_chunks`` chunks from ``obs``; returns the finished buffer, the next obs and episode metrics.

    ``on_chunk(step)`` sees every chunk's result (videos, live statistics).
    """
    recorder = RolloutRecorder(policy.predict_values if policy.has_critic else None, buffer)
    for _ in range(n_chunks):
        with torch.no_grad():
            act: ActOutput = policy.act(obs, deterministic=deterministic)
        step = env.chunk_step(to_env_actions(env, policy, act.actions))
        recorder.add(act, step, obs)
        if on_chunk is not None:
            on_chunk(step)
        obs = step.observations
    buffer, episodes = recorder.finish(obs)
    return buffer, obs, episodes


def random_actions(env: ChunkedVectorEnv, chunk_len: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform actions within the env's bounds (infinite bounds: standard normal)."""
    low, high = env.action_spec.low, env.action_spec.high
    shape = (env.num_envs, chunk_len, env.action_spec.dim)
    finite = np.isfinite(low) & np.isfinite(high)
    u = rng.uniform(0, 1, size=shape).astype(np.float32)
    out = np.where(finite, np.where(finite, low, 0) + u * np.where(finite, high - low, 0), rng.standard_normal(shape))
    discrete = [i for i, d in enumerate(env.action_spec.dims) if d.kind == "discrete"]
    out[..., discrete] = np.rint(out[..., discrete])
    return out.astype(np.float32)


def copy_obs(obs: ObsBatch) -> ObsBatch:
    return ob.copy(obs)
