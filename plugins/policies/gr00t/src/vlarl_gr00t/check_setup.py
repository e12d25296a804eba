"""What ``vlarl check policy gr00t`` runs on: a LIBERO-like embodiment when the config names none."""

from __future__ import annotations

import dataclasses
from typing import Any

from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl_gr00t.register import Gr00tConfig

CHECK_TAG = "libero_franka"
IMAGE = 32


def _stats(n: int) -> dict[str, list[float]]:
    return {
        "min": [-1.0] * n,
        "max": [1.0] * n,
        "mean": [0.0] * n,
        "std": [0.5] * n,
        "q01": [-0.9] * n,
        "q99": [0.9] * n,
    }


def libero_like_entry() -> dict[str, Any]:
    """A metadata.json entry shaped like the official LIBERO one: 2 cameras, 8-dim state, 7-dim action."""
    return {
        "modalities": {
            "video": {"video.image": {"resolution": [IMAGE, IMAGE], "channels": 3},
                      "video.wrist_image": {"resolution": [IMAGE, IMAGE], "channels": 3}},
            "state": {"state.x": {"shape": [3]}, "state.rot": {"shape": [3]}, "state.gripper": {"shape": [2]}},
            "action": {"action.x": {"shape": [3]}, "action.rot": {"shape": [3]}, "action.gripper": {"shape": [1]}},
        },
        "statistics": {
            "state": {"state.x": _stats(3), "state.rot": _stats(3), "state.gripper": _stats(2)},
            "action": {"action.x": _stats(3), "action.rot": _stats(3), "action.gripper": _stats(1)},
        },
        "embodiment_tag": CHECK_TAG,
        "embodiment_id": 1,
    }  # fmt: skip


def check_setup(config: Gr00tConfig) -> tuple[Gr00tConfig, ObservationSpec, ActionSpec]:
    if config.checkpoint_path is None and config.embodiment_tag not in config.embodiments:
        config = dataclasses.replace(config, embodiment_tag=CHECK_TAG, embodiments={CHECK_TAG: libero_like_entry()})
    observation = ObservationSpec(states=(8,), images=(3, IMAGE, IMAGE), wrist_images=(3, IMAGE, IMAGE))
    names = ("x", "y", "z", "roll", "pitch", "yaw")
    action = ActionSpec(
        (*(ActionDim(n) for n in names), ActionDim("gripper", -1.0, 1.0, "gripper")), gripper="close_positive"
    )
    return config, observation, action
