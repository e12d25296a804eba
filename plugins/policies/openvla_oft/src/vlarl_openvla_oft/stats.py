"""Dataset statistics (dataset_statistics.json): key selection, action un-normalization, proprio normalization."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vlarl.errors import ConfigError


def select_stats(all_stats: dict[str, Any], unnorm_key: str | None, where: str) -> tuple[str, dict[str, Any]]:
    keys = sorted(all_stats)
    if unnorm_key is None:
        if len(keys) == 1:
            return keys[0], all_stats[keys[0]]
        raise ConfigError(
            f"The statistics in {where} have {len(keys)} entries ({', '.join(keys)}) and policy.unnorm_key is not set.",
            f"Set policy.unnorm_key to one of: {', '.join(keys)}.",
        )
    if unnorm_key not in all_stats:
        raise ConfigError(
            f"policy.unnorm_key={unnorm_key!r} is not in {where}; present keys: {', '.join(keys) or '(none)'}.",
            f"Set policy.unnorm_key to one of: {', '.join(keys) or '(add statistics to the checkpoint)'}.",
        )
    if "action" not in all_stats[unnorm_key]:
        raise ConfigError(f"Statistics entry {unnorm_key!r} in {where} has no 'action' field.", "Use a complete entry.")
    return unnorm_key, all_stats[unnorm_key]


class Normalizer:
    """BOUNDS_Q99 normalization as in OpenVLA-OFT (q01/q99 bounds, optional mask of dims left as is)."""

    def __init__(self, stats: dict[str, Any] | None, action_low: np.ndarray, action_high: np.ndarray) -> None:
        if stats is not None:
            act = stats["action"]
            low, high = np.asarray(act["q01"], np.float32), np.asarray(act["q99"], np.float32)
            mask = np.asarray(act.get("mask", np.ones_like(low, dtype=bool)), bool)
        else:  # no statistics (random-init presets): map [-1, 1] onto the env's bounds
            low, high = action_low.astype(np.float32), action_high.astype(np.float32)
            mask = np.ones_like(low, dtype=bool)
        self.low, self.high, self.mask = torch.from_numpy(low), torch.from_numpy(high), torch.from_numpy(mask)
        self.eps = 1e-8 if stats is not None else 0.0
        self.constant = torch.from_numpy(_constant_dims(stats["action"] if stats is not None else {}, low))
        prop = (stats or {}).get("proprio")
        self.proprio = None
        if prop is not None and "q01" in prop:
            plow, phigh = np.asarray(prop["q01"], np.float32), np.asarray(prop["q99"], np.float32)
            pmask = np.asarray(prop.get("mask", np.ones_like(plow, dtype=bool)), bool)
            self.proprio = tuple(torch.from_numpy(a) for a in (plow, phigh, pmask, _constant_dims(prop, plow)))

    @property
    def action_dim(self) -> int:
        return int(self.low.shape[0])

    def unnormalize(self, a: torch.Tensor) -> torch.Tensor:
        low, high, mask = (t.to(a.device) for t in (self.low, self.high, self.mask))
        return torch.where(mask, 0.5 * (a + 1) * (high - low + self.eps) + low, a)

    def normalize_actions(self, a: torch.Tensor) -> torch.Tensor:
        """Env-unit actions -> the [-1, 1] targets the official fine-tuning trains on (the inverse of
        ``unnormalize``): RLDS ``normalize_action_and_proprio`` with BOUNDS_Q99, i.e. masked dims
        ``clip(2 (a - q01) / (q99 - q01 + 1e-8) - 1, -1, 1)``, other dims (the gripper) as they are, and dims
        whose ``min == max`` set to 0."""
        low, high, mask, const = (t.to(a.device) for t in (self.low, self.high, self.mask, self.constant))
        mask = mask & torch.isfinite(low) & torch.isfinite(high)  # no statistics: unbounded env dims pass through
        out = torch.where(mask, (2 * (a - low) / (high - low + 1e-8) - 1).clamp(-1, 1), a)
        return torch.where(const, torch.zeros_like(out), out)

    def normalize_proprio(self, p: torch.Tensor, train: bool = False) -> torch.Tensor:
        """Eval (default): ``normalize_proprio`` of openvla_utils.py, clipped to [-1, 1] after the mask.
        ``train``: the fine-tuning pipeline's RLDS normalization (clip inside the mask, ``min == max`` dims 0)."""
        if self.proprio is None:
            return p
        low, high, mask, const = (t.to(p.device) for t in self.proprio)
        if low.shape[0] != p.shape[-1]:
            raise ConfigError(
                f"The proprio statistics have {low.shape[0]} dims but the states have {p.shape[-1]}.",
                "Use the statistics entry (policy.unnorm_key) of the robot that produces these states.",
            )
        scaled = 2 * (p - low) / (high - low + 1e-8) - 1
        if not train:
            return torch.where(mask, scaled, p).clamp(-1, 1)
        out = torch.where(mask, scaled.clamp(-1, 1), p)
        return torch.where(const, torch.zeros_like(out), out)


def _constant_dims(entry: dict[str, Any], like: np.ndarray) -> np.ndarray:
    """Dims whose recorded ``min == max``: the official RLDS normalization maps them to 0."""
    if "min" not in entry or "max" not in entry:
        return np.zeros_like(like, dtype=bool)
    return np.asarray(entry["min"], np.float32) == np.asarray(entry["max"], np.float32)
