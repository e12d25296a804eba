"""Observation and action specs: what an env promises about its arrays.

Pure Python and NumPy only, so registration modules and the CLI can use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

GripperConvention = Literal["open_positive", "close_positive", "none"]
"""Sign of the gripper dimension: with ``open_positive`` +1 opens and -1 closes
(LIBERO/robosuite uses ``close_positive``: -1 opens, +1 closes)."""


@dataclass(frozen=True)
class ActionDim:
    """One dimension of the action vector, with its meaning and its bounds."""

    name: str
    low: float = -1.0
    high: float = 1.0
    kind: Literal["continuous", "gripper", "discrete"] = "continuous"
    """``discrete``: integer values in [low, high] (e.g. a gymnasium ``Discrete`` space)."""


@dataclass(frozen=True)
class ActionSpec:
    """The env's action vector: named dims, bounds and the gripper convention."""

    dims: tuple[ActionDim, ...]
    gripper: GripperConvention = "none"
    source: str = ""
    """Where the actions were read, for messages: a dataset's file and keys; empty for an env's spec."""

    @property
    def dim(self) -> int:
        return len(self.dims)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    @property
    def low(self) -> np.ndarray:
        return np.array([d.low for d in self.dims], dtype=np.float32)

    @property
    def high(self) -> np.ndarray:
        return np.array([d.high for d in self.dims], dtype=np.float32)

    @property
    def gripper_indices(self) -> list[int]:
        return [i for i, d in enumerate(self.dims) if d.kind == "gripper"]

    def convert_gripper(self, actions: np.ndarray, source: GripperConvention) -> np.ndarray:
        """Return ``actions`` with gripper dims flipped from ``source`` to this spec's convention.

        Policies trained with the other sign work through this, never through
        env-specific code inside the policy.
        """
        if source == self.gripper or "none" in (source, self.gripper):
            return actions
        out = np.array(actions, copy=True)
        out[..., self.gripper_indices] *= -1.0
        return out

    @classmethod
    def box(cls, dim: int, low: float = -1.0, high: float = 1.0, prefix: str = "a") -> ActionSpec:
        """An unnamed continuous box, for envs whose dims have no robot meaning."""
        return cls(tuple(ActionDim(f"{prefix}{i}", low, high) for i in range(dim)))


@dataclass(frozen=True)
class ObservationSpec:
    """Which observation keys an env returns and their per-env shapes.

    ``images``: (3, H, W) uint8, main camera, upright; ``wrist_images``: (3, H, W)
    or (K, 3, H, W) uint8; ``states``: (D,) float32. ``task_descriptions`` is
    always present (a list of N strings). ``state_names``, when given, names
    each of the D state dims (e.g. ``eef_pos.x``, ``akita_black_bowl_1.quat.w``).
    ``tasks``, when known, lists every task description the env can return (sorted), so
    a policy can size a per-task embedding.
    """

    states: tuple[int, ...] | None = None
    images: tuple[int, ...] | None = None
    wrist_images: tuple[int, ...] | None = None
    extra: dict[str, tuple[int, ...]] = field(default_factory=dict)
    state_names: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = self.state_names
        if names is not None and (self.states is None or len(names) != int(np.prod(self.states))):
            raise ValueError(f"ObservationSpec.state_names has {len(names)} names for states of shape {self.states}")

    @property
    def keys(self) -> list[str]:
        present = [k for k in ("images", "wrist_images", "states") if getattr(self, k) is not None]
        return present + sorted(self.extra) + ["task_descriptions"]

    def shape(self, key: str) -> tuple[int, ...] | None:
        if key in self.extra:
            return self.extra[key]
        return getattr(self, key, None)
