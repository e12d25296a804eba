"""The chunked vectorized env contract.

An env holds ``num_envs`` sub-envs and executes an action *chunk* of C
sub-steps per call. Conventions every implementation follows:

* ``chunk_step(actions[N, C, A])`` runs sub-steps in order. A sub-env whose
  episode ends at sub-step c executes no further sub-steps of that chunk:
  ``valid[i, c+1:]`` is False and their rewards/terminations/truncations are 0.
* Finished sub-envs are reset at the chunk boundary. The returned
  observation of a reset sub-env is its new initial observation; the
  observation at which its episode ended is ``infos["final_observation"]``
  (the whole batch before autoreset, so rows of running sub-envs equal ``obs``;
  it may be the very object returned as ``obs`` when no sub-env finished, so
  consumers treat both as read-only).
* ``infos["done"]`` (bool [N]) marks sub-envs whose episode ended in this
  chunk, and ``infos["episode"]`` holds their metrics (``success_once``,
  ``success_at_end``, ``return``, ``episode_len``, arrays [N] read where done).
* ``reset(seed, options)``: sub-envs given the same reset seed start from the
  same initial state. ``options={"group_size": G}`` makes consecutive groups of
  G sub-envs share one initial state (GRPO).
* All simulator quirks (image flips, quaternion order, gripper sign) are
  fixed inside the env: observations follow :mod:`vlarl.contracts.observation`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ActionSpec, ObservationSpec

EPISODE_METRICS: tuple[str, ...] = ("success_once", "success_at_end", "return", "episode_len")
"""Per-episode metrics every env reports in ``infos["episode"]``."""

GROUP_SIZE_OPTION = "group_size"
"""Reset option: consecutive groups of this many sub-envs share one initial state."""


@dataclass
class ChunkStep:
    """What one ``chunk_step`` returns. Arrays are NumPy or torch (same device as the env)."""

    observations: ObsBatch
    rewards: Any  # float32 [N, C]
    terminations: Any  # bool [N, C]
    truncations: Any  # bool [N, C]
    valid: Any  # bool [N, C]: sub-step executed inside a live episode
    infos: dict[str, Any] = field(default_factory=dict)


class ChunkedVectorEnv(ABC):
    """N sub-envs stepped by action chunks; see the module docstring for the rules."""

    num_envs: int
    observation_spec: ObservationSpec
    action_spec: ActionSpec
    max_episode_steps: int
    device: Any = None
    """None: NumPy arrays on the CPU. A torch device: tensors on it (GPU-batched simulators)."""

    @abstractmethod
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsBatch, dict[str, Any]]:
        """Reset every sub-env; returns observations and infos."""

    @abstractmethod
    def chunk_step(self, actions: Any) -> ChunkStep:
        """Execute ``actions`` [N, C, A] in env units."""

    def render_frames(self) -> np.ndarray | None:
        """Optional: uint8 [N, H, W, 3] frames for rollout videos (None if unsupported)."""
        return None

    def close(self) -> None:
        """Release simulators and worker processes."""

    def __enter__(self) -> ChunkedVectorEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def group_seeds(num_envs: int, seed: int | None, group_size: int | None) -> list[int | None]:
    """Per-sub-env reset seeds; members of one group get the same seed.

    Without a group size each sub-env gets ``seed + i``; with one, group g gets
    ``seed + g``. With no seed at all, groups still need a shared seed, so one
    is drawn from NumPy's global generator.
    """
    if group_size is None or group_size <= 1:
        return [None if seed is None else seed + i for i in range(num_envs)]
    if num_envs % group_size:
        from vlarl.errors import ConfigError

        raise ConfigError(
            f"group_size={group_size} does not divide num_envs={num_envs}.",
            "Set env.num_envs to a multiple of algorithm.group_size.",
        )
    base = int(np.random.randint(0, 2**31 - 1)) if seed is None else seed
    return [base + i // group_size for i in range(num_envs)]
