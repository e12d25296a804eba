"""The observation batch every env returns and every policy reads.

A plain dict so it crosses process boundaries cheaply:

* ``images``: uint8 [N, 3, H, W], main camera, upright
* ``wrist_images``: uint8 [N, 3, H, W] or [N, K, 3, H, W]
* ``states``: float32 [N, D]
* ``task_descriptions``: list[str] of length N

Arrays are NumPy on CPU envs, torch tensors on GPU-batched envs.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np


class ObsBatch(TypedDict, total=False):
    images: Any
    wrist_images: Any
    states: Any
    task_descriptions: list[str]


ARRAY_KEYS: tuple[str, ...] = ("images", "wrist_images", "states")


def batch_size(obs: ObsBatch) -> int:
    return len(obs["task_descriptions"])


def take(obs: ObsBatch, index: Any) -> ObsBatch:
    """Rows ``index`` (an int array or bool mask) of every entry."""
    idx = np.asarray(index)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if key == "task_descriptions":
            out[key] = [value[i] for i in idx]
        else:
            out[key] = value[idx]
    return out  # type: ignore[return-value]


def put(target: ObsBatch, index: Any, source: ObsBatch) -> None:
    """Write ``source`` into rows ``index`` (int array, bool mask or slice) of ``target`` in place."""
    if isinstance(index, slice):
        for key, value in source.items():
            target[key][index] = list(value) if key == "task_descriptions" else value  # type: ignore[literal-required]
        return
    idx = np.asarray(index)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    for key, value in source.items():
        if key == "task_descriptions":
            for j, i in enumerate(idx):
                target[key][i] = value[j]
        else:
            target[key][idx] = value


def copy(obs: ObsBatch) -> ObsBatch:
    out: dict[str, Any] = {}
    for key, value in obs.items():
        out[key] = (
            list(value) if key == "task_descriptions" else value.copy() if hasattr(value, "copy") else value.clone()
        )
    return out  # type: ignore[return-value]


def concat(parts: list[ObsBatch]) -> ObsBatch:
    """Stack per-worker batches into one batch (NumPy)."""
    out: dict[str, Any] = {}
    for key in parts[0]:
        if key == "task_descriptions":
            out[key] = [d for p in parts for d in p[key]]
        else:
            out[key] = np.concatenate([p[key] for p in parts], axis=0)
    return out  # type: ignore[return-value]
