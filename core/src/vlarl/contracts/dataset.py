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
