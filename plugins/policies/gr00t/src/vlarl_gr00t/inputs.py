"""Observation batch -> model inputs: camera images, token ids, normalized padded states.

Everything is validated before any forward pass, with errors that name the
missing key or the wrong width and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vlarl.contracts.observation import ObsBatch
from vlarl.errors import ConfigError, ContractError
from vlarl_gr00t.embodiment import Embodiment


class ByteTokenizer:
    """Fallback when no tokenizer files are available (tiny configs, tests): one id per UTF-8 byte."""

    def __init__(self, vocab_size: int, reserved: int) -> None:
        self.vocab_size, self.reserved = vocab_size, reserved

    def encode(self, text: str) -> list[int]:
        ids = [1 + b % (self.vocab_size - 2) for b in text.encode("utf-8")]
        return [i if i != self.reserved else i + 1 for i in ids]


class HFTokenizer:
    def __init__(self, path: str) -> None:
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])


def make_tokenizer(tokenizer_path: str | None, checkpoint: str | None, vocab_size: int, image_token: int) -> Any:
    for cand in (tokenizer_path, checkpoint):
        if cand and any((Path(cand) / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
            return HFTokenizer(cand)
    if tokenizer_path:
        raise ConfigError(
            f"No tokenizer files in {tokenizer_path}.", "Point tokenizer_path at a directory with tokenizer.json."
        )
    return ByteTokenizer(vocab_size, image_token)


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


def images_tensor(obs: ObsBatch, cams: list[tuple[str, str, int | None]], size: int) -> torch.Tensor:
    """uint8 [N, V, 3, size, size], resized so replay records have a fixed shape."""
    views = []
    for _, name, idx in cams:
        arr = _as_tensor(obs[name])  # type: ignore[literal-required]
        if arr.ndim == 5:
            arr = arr[:, idx or 0]
        img = arr.float()
        if img.shape[-1] != size or img.shape[-2] != size:
            img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        views.append(img.round().clamp(0, 255).to(torch.uint8))
    return torch.stack(views, dim=1)


def pixel_values(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """uint8 [N, V, 3, S, S] -> [N*V, 3, S, S] in [-1, 1] (SigLIP mean = std = 0.5)."""
    x = images.flatten(0, 1).to(dtype) / 255.0
    return (x - 0.5) / 0.5


def token_ids(
    texts: list[str], tokenizer: Any, num_views: int, image_tokens: int, image_token_id: int, max_text: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """[image slots per view] + task tokens, right-padded to a fixed length."""
    length = num_views * image_tokens + max_text
    ids = torch.zeros(len(texts), length, dtype=torch.long)
    mask = torch.zeros(len(texts), length, dtype=torch.long)
    for i, text in enumerate(texts):
        toks = [image_token_id] * (num_views * image_tokens) + tokenizer.encode(text)[:max_text]
        ids[i, : len(toks)] = torch.tensor(toks)
        mask[i, : len(toks)] = 1
    return ids, mask


def states_tensor(obs: ObsBatch, emb: Embodiment, max_state_dim: int) -> torch.Tensor:
    n = len(obs["task_descriptions"])
    out = torch.zeros(n, max_state_dim)
    if emb.state:
        raw = obs["states"]
        raw = raw.detach().cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
        out[:, : emb.state_dim] = torch.from_numpy(emb.normalize_state(raw.astype(np.float64)))
    return out
