"""Registration of the ``lerobot`` dataset (light: no pyarrow, PyAV, numpy or torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field

import vlarl


@dataclass
class LeRobotConfig:
    root: str = ""
    """The dataset directory (the one holding meta/info.json), as LeRobot stores it on disk."""
    images: str | None = None
    """Feature key served as ``images`` (e.g. ``observation.images.image``); null: none, or the first
    video group of meta/modality.json when ``modality`` is true."""
    wrist_images: list[str] = field(default_factory=list)
    """Feature keys served as ``wrist_images``: one gives [3, H, W], several [K, 3, H, W]."""
    states: list[str] | None = None
    """Numeric features concatenated into ``states`` (null: ``observation.state``; [] for none)."""
    actions: list[str] | None = None
    """Numeric features concatenated into the action vector (null: ``action``)."""
    modality: bool = False
    """Read meta/modality.json (GR00T's data config): states and actions are its state/action groups in its
    order (``original_key[start:end]``), cameras its video groups, the task its first annotation group."""
    task_key: str = "task_index"
    """Column of task indices into the tasks table (meta/tasks.jsonl or meta/tasks.parquet)."""
    episodes: list[int] | None = None
    """Episode indices to read (null: all)."""
    image_size: list[int] | None = None
    """Decode frames resized to [H, W] (saves memory on large datasets); null: as stored."""
    action_bounds: str = "data"
    """Bounds of the action spec: ``data`` (per-dim min/max of the episodes read) or ``unit`` ([-1, 1])."""
    gripper_dims: list[int] = field(default_factory=list)
    """Action dims that are grippers (their sign is converted to a policy's convention)."""
    gripper_convention: str = "none"
    """Sign of those dims: ``close_positive`` (LIBERO: -1 opens, +1 closes), ``open_positive`` or ``none``."""
    video_tolerance_s: float = 1e-4
    """A frame matches a row's timestamp within this many seconds (LeRobot's ``tolerance_s``)."""


@vlarl.hookimpl
def vlarl_register() -> list[vlarl.PluginSpec]:
    return [
        vlarl.PluginSpec(
            kind="dataset",
            name="lerobot",
            factory="vlarl_lerobot.dataset:make_dataset",
            description="LeRobot datasets as stored on disk (v2.1, v3.0: meta/, parquet data, mp4 videos); "
            "feature keys mapped to images / wrist_images / states; GR00T meta/modality.json.",
            config=LeRobotConfig,
            requirements=(
                vlarl.Requirement("python", "pyarrow", "pip install vlarl-lerobot (or pip install pyarrow)"),
                vlarl.Requirement("python", "av", "pip install vlarl-lerobot (or pip install av)"),
            ),
        )
    ]
