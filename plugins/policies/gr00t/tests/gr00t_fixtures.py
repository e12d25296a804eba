"""Shared helpers for the GR00T tests: a LIBERO-like embodiment entry and observation batches."""

from __future__ import annotations

from typing import Any

import numpy as np

from vlarl_gr00t.register import Gr00tConfig, RLHeadConfig


def libero_entry(embodiment_id: int | None = 1) -> dict[str, Any]:
    """A metadata.json entry shaped like the official one (LIBERO: 2 cameras, 8-dim state, 7-dim action)."""
    rng = np.random.default_rng(0)

    def stats(n: int) -> dict[str, list[float]]:
        lo = -1.0 - rng.random(n)
        hi = 1.0 + rng.random(n)
        return {
            "min": lo.tolist(),
            "max": hi.tolist(),
            "mean": ((lo + hi) / 2).tolist(),
            "std": ((hi - lo) / 4).tolist(),
            "q01": (lo * 0.9).tolist(),
            "q99": (hi * 0.9).tolist(),
        }

    entry: dict[str, Any] = {
        "modalities": {
            "video": {
                "video.image": {"resolution": [32, 32], "channels": 3},
                "video.wrist_image": {"resolution": [32, 32], "channels": 3},
            },
            "state": {"state.x": {"shape": [3]}, "state.rot": {"shape": [3]}, "state.gripper": {"shape": [2]}},
            "action": {"action.x": {"shape": [3]}, "action.rot": {"shape": [3]}, "action.gripper": {"shape": [1]}},
        },
        "statistics": {
            "state": {"state.x": stats(3), "state.rot": stats(3), "state.gripper": stats(2)},
            "action": {"action.x": stats(3), "action.rot": stats(3), "action.gripper": stats(1)},
        },
        "embodiment_tag": "libero_franka",
    }
    if embodiment_id is not None:
        entry["embodiment_id"] = embodiment_id
    return entry


def tiny_config(**overrides: Any) -> Gr00tConfig:
    rl = overrides.pop("rl", {})
    base = dict(
        preset="tiny",
        embodiment_tag="libero_franka",
        embodiments={"libero_franka": libero_entry()},
        num_action_chunks=5,
        denoising_steps=4,
        max_text_tokens=24,
        rl_head_config=RLHeadConfig(**{"noise_method": "flow_sde", "noise_level": 0.5, **rl}),
    )
    base.update(overrides)
    return Gr00tConfig(**base)


def make_obs(n: int, seed: int = 0, size: int = 32) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "images": rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8),
        "wrist_images": rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8),
        "states": rng.normal(size=(n, 8)).astype(np.float32),
        "task_descriptions": [f"pick up the bowl {i}" for i in range(n)],
    }


def fixed_draw(policy: Any, seed: int = 0) -> Any:
    """``policy`` whose supervised loss always uses the same noise and times (a fresh generator per call).

    For the conformance kit's supervised row: it compares the loss of two calls, which for a flow-matching
    loss are two independent draws (on the tiny model their spread, ~20%, exceeds what 30 steps at lr 1e-3
    gain, ~5%). At a fixed draw the loss is a function of the weights alone, which is what the row means.
    """
    import torch

    from vlarl_gr00t.policy import Gr00tPolicy

    def loss(batch: Any) -> Any:
        return Gr00tPolicy.supervised_loss(policy, batch, generator=torch.Generator().manual_seed(seed))

    policy.supervised_loss = loss
    return policy
