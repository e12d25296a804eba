"""The host's contracts. Import the torch-based parts (policy, buffer, algorithm) explicitly."""

from vlarl.contracts.env import EPISODE_METRICS, GROUP_SIZE_OPTION, ChunkedVectorEnv, ChunkStep, group_seeds
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ActionDim, ActionSpec, GripperConvention, ObservationSpec

__all__ = [
    "EPISODE_METRICS",
    "GROUP_SIZE_OPTION",
    "ActionDim",
    "ActionSpec",
    "ChunkStep",
    "ChunkedVectorEnv",
    "GripperConvention",
    "ObsBatch",
    "ObservationSpec",
    "group_seeds",
]
