"""Synthetic observation batches from an ObservationSpec, for policy checks."""

from __future__ import annotations

import numpy as np

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ObservationSpec


def synthetic_obs(
    spec: ObservationSpec, batch_size: int, seed: int = 0, task: str = "pick up the red block"
) -> ObsBatch:
    rng = np.random.default_rng(seed)
    obs: ObsBatch = {"task_descriptions": [task] * batch_size}
    for key in ("images", "wrist_images"):
        shape = spec.shape(key)
        if shape is not None:
            obs[key] = rng.integers(0, 256, size=(batch_size, *shape), dtype=np.uint8)
    if spec.states is not None:
        obs["states"] = rng.standard_normal((batch_size, *spec.states)).astype(np.float32)
    for key, shape in spec.extra.items():
        obs[key] = rng.standard_normal((batch_size, *shape)).astype(np.float32)
    return obs
