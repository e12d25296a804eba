"""OmniGibson observation dicts -> vlarl arrays (runs inside the workers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vlarl.errors import ContractError
from vlarl_behavior.robot import CAMERAS, ROBOT_NAME


def flatten(obs: dict[str, Any], parent: str = "") -> dict[str, Any]:
    """Nested ``obs[robot][sensor][modality]`` -> ``obs["robot::sensor::modality"]`` (flat dicts pass through)."""
    out: dict[str, Any] = {}
    for key, value in obs.items():
        name = f"{parent}::{key}" if parent else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def to_chw_uint8(rgb: Any, size: int) -> np.ndarray:
    """RGB(A) [H, W, 3|4] (uint8 or float in [0, 1]) -> uint8 [3, size, size], area-averaged when shrinking."""
    img = torch.as_tensor(rgb)[..., :3]
    if img.dtype != torch.uint8:
        img = img.float()
        if img.numel() and float(img.max()) <= 1.0 + 1e-6:
            img = img * 255.0
    img = img.permute(2, 0, 1).float().unsqueeze(0)
    if img.shape[-2:] != (size, size):
        img = F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return img.round().clamp(0, 255).to(torch.uint8).squeeze(0).cpu().numpy()


def extract(raw: dict[str, Any], size: int, state_dim: int) -> dict[str, np.ndarray]:
    """One env's observation: head image, the two wrist images, proprioception."""
    flat = flatten(raw)

    def rgb(camera: str) -> Any:
        key = f"{CAMERAS[camera]}::rgb"
        if key not in flat:
            raise ContractError(
                f"OmniGibson observation has no '{key}' (keys: {sorted(flat)[:8]}...).",
                "Keep 'rgb' in the robot's obs_modalities and do not exclude the R1 Pro cameras.",
            )
        return flat[key]

    proprio_key = f"{ROBOT_NAME}::proprio"
    if proprio_key not in flat:
        raise ContractError(
            f"OmniGibson observation has no '{proprio_key}'.", "Keep 'proprio' in the robot's obs_modalities."
        )
    state = torch.as_tensor(flat[proprio_key]).float().reshape(-1).cpu().numpy()
    if state.shape[0] != state_dim:
        raise ContractError(
            f"R1 Pro proprioception has {state.shape[0]} dims, the env's spec says {state_dim}.",
            "Use env.proprio_obs keys of the installed OmniGibson (see the plugin README).",
        )
    return {
        "images": to_chw_uint8(rgb("head"), size),
        "wrist_images": np.stack([to_chw_uint8(rgb("left_wrist"), size), to_chw_uint8(rgb("right_wrist"), size)]),
        "states": state.astype(np.float32),
    }


def stack(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([r[k] for r in rows]) for k in ("images", "wrist_images", "states")}
