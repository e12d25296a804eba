"""The golden fixture of the official GR00T N1.5 code (tests/golden, see its README.txt) and a policy loaded from it.

The policy is built the way a user's config builds it: a ``policy:`` section naming only ``checkpoint_path``,
validated against the plugin's config class, then the plugin's factory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlarl.config import validate_section
from vlarl_gr00t.policy import Gr00tPolicy, make
from vlarl_gr00t.register import Gr00tConfig

GOLDEN = Path(__file__).resolve().parent / "golden"
ATOL = 2e-5  # float32; the issue asks 1e-4 or better, the official code agrees to ~3e-6


def reference() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "reference_outputs.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def golden_policy(**section: Any) -> Gr00tPolicy:
    """The plugin at its defaults on the golden checkpoint (``section`` adds policy config keys)."""
    config = validate_section(Gr00tConfig, {"checkpoint_path": str(GOLDEN), **section}, "policy")
    return make(config)


def golden_replay(ref: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The stored model inputs in the plugin's replay layout (images uint8 [N, V, 3, S, S], state [N, 8])."""
    return {
        "images": torch.from_numpy(ref["images_uint8"]),
        "input_ids": torch.from_numpy(ref["input_ids"]),
        "attention_mask": torch.from_numpy(ref["attention_mask"]),
        "state": torch.from_numpy(ref["state"][:, 0]),
    }


def max_diff(a: torch.Tensor | np.ndarray, b: np.ndarray) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
