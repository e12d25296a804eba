"""Observation batch -> model inputs: camera images, normalized padded states (token ids: ``prompt``).

Everything is validated before any forward pass, with errors that name the
missing key or the wrong width and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vlarl.contracts.observation import ObsBatch
from vlarl.errors import ConfigError, ContractError
from vlarl_gr00t import images
from vlarl_gr00t.embodiment import Embodiment


def camera_sources(emb: Embodiment, camera_keys: dict[str, str]) -> list[tuple[str, str, int | None]]:
    """[(video key, obs key, wrist index)] in the embodiment's camera order."""
    out = []
    for i, key in enumerate(emb.video_keys):
        src = camera_keys.get(key) or ("images" if i == 0 else f"wrist_images:{i - 1}")
        name, _, idx = src.partition(":")
        if name not in ("images", "wrist_images"):
            raise ConfigError(
                f"camera_keys.{key}={src!r} names no image observation.",
                "Map it to images, wrist_images or wrist_images:<k>.",
            )
        out.append((key, name, int(idx) if idx else None))
    return out


def _as_tensor(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def validate(obs: ObsBatch, emb: Embodiment, cams: list[tuple[str, str, int | None]]) -> None:
    if "task_descriptions" not in obs:
        raise ContractError("The observation has no 'task_descriptions'.", "Envs must return a list of N task strings.")
    n = len(obs["task_descriptions"])
    for video_key, name, idx in cams:
        if name not in obs or obs[name] is None:  # type: ignore[literal-required]
            raise ContractError(
                f"GR00T embodiment '{emb.tag}' needs camera '{video_key}' from observation '{name}', which is missing "
                f"(observation keys: {sorted(obs)}).",
                "Enable that camera in the env, or map the video key to another observation with policy.camera_keys.",
            )
        arr = obs[name]  # type: ignore[literal-required]
        k = 1 if arr.ndim == 4 else arr.shape[1]
        if idx is not None and idx >= k:
            raise ContractError(
                f"Camera '{video_key}' maps to wrist_images:{idx} but the observation has {k} wrist camera(s).",
                "Fix policy.camera_keys or give the env more wrist cameras.",
            )
    if emb.state:
        if "states" not in obs:
            raise ContractError(
                f"GR00T embodiment '{emb.tag}' needs state keys {list(emb.state)} but the observation has no 'states'.",
                "Return proprioceptive states from the env.",
            )
        width = obs["states"].shape[-1]
        if width != emb.state_dim or obs["states"].shape[0] != n:
            raise ContractError(
                f"Observation 'states' is {tuple(obs['states'].shape)}; embodiment '{emb.tag}' expects [{n}, {emb.state_dim}] "
                f"= {', '.join(f'{k}:{s.width}' for k, s in emb.state.items())}.",
                "Make the env's state vector match the metadata.json state keys (in that order).",
            )


def images_tensor(obs: ObsBatch, cams: list[tuple[str, str, int | None]], size: int, crop_scale: float) -> torch.Tensor:
    """uint8 [N, V, 3, size, size]: each camera through the official eval crop + resize (:mod:`vlarl_gr00t.images`)."""
    views = []
    for _, name, idx in cams:
        arr = _as_tensor(obs[name])  # type: ignore[literal-required]
        if arr.ndim == 5:
            arr = arr[:, idx or 0]
        views.append(images.preprocess(arr, size, crop_scale))
    return torch.stack(views, dim=1)


def states_tensor(obs: ObsBatch, emb: Embodiment, max_state_dim: int) -> torch.Tensor:
    n = len(obs["task_descriptions"])
    out = torch.zeros(n, max_state_dim)
    if emb.state:
        raw = obs["states"]
        raw = raw.detach().cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
        out[:, : emb.state_dim] = torch.from_numpy(emb.normalize_state(raw.astype(np.float64)))
    return out
