"""Per-key state/action normalization, as the official ``Normalizer`` (gr00t/data/transform/state_action.py:98-212).

* ``min_max``: 2 (x - min) / (max - min) - 1, not clipped; a constant dim (min == max) gives 0.
  Inverse (a + 1) / 2 (max - min) + min.
* ``q99``: the same with q01/q99, then clipped to [-1, 1]; a constant dim passes x through (then clipped).
  Inverse (a + 1) / 2 (q99 - q01) + q01.
* ``mean_std``: (x - mean) / std; std == 0 passes x through. Inverse a std + mean.
* ``binary``: 1 if x > 0.5 else 0, both ways.
* ``identity``: x (vlarl's name for a key the data config gives no mode).

No mode clips before un-normalizing. Statistics are rounded to float32 first (upstream stores them with
``torch.tensor(list)``), arithmetic runs in float64.
"""

from __future__ import annotations

import numpy as np

MODES = ("min_max", "q99", "mean_std", "binary", "identity")
NEEDS: dict[str, tuple[str, ...]] = {
    "min_max": ("min", "max"),
    "q99": ("q01", "q99"),
    "mean_std": ("mean", "std"),
    "binary": (),
    "identity": (),
}


def as_stats(raw: dict[str, list[float]]) -> dict[str, np.ndarray]:
    """metadata.json statistics -> float64 arrays holding the float32 values upstream computes with."""
    return {k: np.asarray(v, dtype=np.float32).astype(np.float64) for k, v in raw.items()}


def _range(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, constant_to_x: bool) -> np.ndarray:
    varying = lo != hi
    out = np.zeros_like(x) if not constant_to_x else x.copy()
    scaled = (x - lo) / np.where(varying, hi - lo, 1.0)
    return np.where(varying, 2.0 * scaled - 1.0, out)


def normalize(x: np.ndarray, mode: str, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Normalizer.forward for one key: x [..., width] in float64."""
    if mode == "identity":
        return x
    if mode == "binary":
        return (x > 0.5).astype(x.dtype)
    if mode == "min_max":
        return _range(x, stats["min"], stats["max"], constant_to_x=False)
    if mode == "q99":
        return np.clip(_range(x, stats["q01"], stats["q99"], constant_to_x=True), -1.0, 1.0)
    if mode == "mean_std":
        std = stats["std"]
        return np.where(std != 0, (x - stats["mean"]) / np.where(std != 0, std, 1.0), x)
    raise ValueError(f"unknown normalization mode {mode!r}; use one of {MODES}")


def unnormalize(a: np.ndarray, mode: str, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Normalizer.inverse for one key: a [..., width] in float64; nothing is clipped."""
    if mode == "identity":
        return a
    if mode == "binary":
        return (a > 0.5).astype(a.dtype)
    if mode == "min_max":
        return (a + 1.0) / 2.0 * (stats["max"] - stats["min"]) + stats["min"]
    if mode == "q99":
        return (a + 1.0) / 2.0 * (stats["q99"] - stats["q01"]) + stats["q01"]
    if mode == "mean_std":
        return a * stats["std"] + stats["mean"]
    raise ValueError(f"unknown normalization mode {mode!r}; use one of {MODES}")
