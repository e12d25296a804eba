"""The demonstration dataset contract: stored episodes as observation batches and action chunks.

A dataset plugin reads demonstrations in some on-disk format (LIBERO HDF5, LeRobot, ...) and
serves *samples*: one per recorded step, made of the observation at that step and the chunk of
the ``chunk_len`` actions that follow it. Near an episode's end the chunk runs past the last
action; those positions repeat the last action and are False in ``action_mask`` (policies
ignore them in their loss).

Pure NumPy: registration modules and the CLI may import this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ActionSpec, ObservationSpec


@dataclass
class DemoBatch:
    """B samples: observations, the action chunks that followed them, and which chunk steps are real."""

    observations: ObsBatch
    actions: np.ndarray  # float32 [B, C, A], env units, the dataset's gripper convention
    action_mask: np.ndarray  # bool [B, C]: False past the end of the episode

    def __len__(self) -> int:
        return int(self.actions.shape[0])


@dataclass
class DemoStatistics:
    """Per-dim statistics of a dataset's states and actions, for policies that normalize their inputs."""

    state_mean: np.ndarray | None  # float32 [D] (None: the dataset has no states)
    state_std: np.ndarray | None
    action_mean: np.ndarray  # float32 [A]
    action_std: np.ndarray


def action_chunks(
    actions: np.ndarray, episode_end: np.ndarray, indices: np.ndarray, chunk_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """The chunks ``actions[i : i + chunk_len]`` of flat per-step arrays, and their validity mask [B, C].

    ``episode_end[i]`` is the flat index one past the last step of step i's episode: a chunk never reads into
    the next episode; past the end it repeats the episode's last action, masked out.
    """
    idx = np.asarray(indices, dtype=np.int64)
    steps = idx[:, None] + np.arange(chunk_len)[None, :]
    end = episode_end[idx][:, None]
    return actions[np.minimum(steps, end - 1)], steps < end


def compute_statistics(dataset: DemoDataset, batch_size: int = 4096) -> DemoStatistics:
    """Mean and standard deviation of every state and action dim over all samples (one pass, float64)."""
    n = len(dataset)
    sums: dict[str, np.ndarray] = {}
    squares: dict[str, np.ndarray] = {}
    for start in range(0, n, batch_size):
        batch = dataset.get_batch(np.arange(start, min(start + batch_size, n)), chunk_len=1)
        parts = {"action": batch.actions[:, 0]}
        if "states" in batch.observations:
            parts["state"] = np.asarray(batch.observations["states"]).reshape(len(batch), -1)
        for key, x in parts.items():
            x = x.astype(np.float64)
            sums[key] = sums.get(key, 0.0) + x.sum(0)
            squares[key] = squares.get(key, 0.0) + (x * x).sum(0)
    mean = {k: sums[k] / n for k in sums}
    std = {k: np.sqrt(np.maximum(squares[k] / n - mean[k] ** 2, 0.0)) for k in sums}
    f32 = {k: (mean[k].astype(np.float32), std[k].astype(np.float32)) for k in sums}
    state = f32.get("state", (None, None))
    return DemoStatistics(state[0], state[1], *f32["action"])


class DemoDataset(ABC):
    """Demonstrations, indexable by sample (one per recorded step of every episode)."""

    observation_spec: ObservationSpec
    action_spec: ActionSpec
    source: str
    """Where the data came from (paths), for messages."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of samples (recorded steps over all episodes)."""

    @property
    @abstractmethod
    def num_episodes(self) -> int:
        """Number of demonstrations."""

    @property
    @abstractmethod
    def task_descriptions(self) -> tuple[str, ...]:
        """The distinct task descriptions, sorted."""

    @abstractmethod
    def get_batch(self, indices: np.ndarray, chunk_len: int) -> DemoBatch:
        """Samples ``indices`` with action chunks of ``chunk_len`` steps."""
