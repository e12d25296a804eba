"""Read and write GR00T-N1.5 checkpoint directories in the official layout.

A directory holds ``config.json`` (``backbone_cfg``, ``action_head_cfg``, ...),
``model.safetensors`` or sharded ``model-XXXXX-of-YYYYY.safetensors`` with
``model.safetensors.index.json``, and ``experiment_cfg/metadata.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from vlarl.errors import ConfigError

# Tensors official checkpoints may carry that the native model does not use.
_UNUSED = (
    re.compile(r"^backbone\.eagle_model\.language_model\.lm_head\."),  # LM head: only hidden states are used
    re.compile(r"^backbone\.eagle_model\.vision_model\.vision_model\.head\."),  # SigLIP pooling head
)


def _unused(key: str, select_layer: int) -> bool:
    if any(p.match(key) for p in _UNUSED):
        return True
    m = re.match(r"^backbone\.eagle_model\.language_model\.model\.layers\.(\d+)\.", key)
    return bool(m and int(m.group(1)) >= select_layer)  # layers above select_layer are dropped upstream too


def safetensor_files(ckpt: Path) -> list[Path]:
    index = ckpt / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [n for n in names if not (ckpt / n).is_file()]
        if missing:
            raise ConfigError(
                f"{index} lists shard(s) that are absent: {', '.join(missing)}.", "Download the complete checkpoint."
            )
        return [ckpt / n for n in names]
    files = sorted(ckpt.glob("*.safetensors"))
    if not files:
        raise ConfigError(
            f"No *.safetensors file in {ckpt}.", "Point checkpoint_path at a GR00T-N1.5 checkpoint directory."
        )
    return files


def load_weights(model: nn.Module, ckpt: str | Path, select_layer: int) -> dict[str, list[str]]:
    """Copy every checkpoint tensor into ``model``; raise one error naming each missing/mismatched/unknown tensor."""
    ckpt = Path(ckpt)
    expected = model.state_dict()
    buffers = {name for name, _ in model.named_buffers()}
    found: dict[str, tuple[Path, tuple[int, ...]]] = {}
    for f in safetensor_files(ckpt):
        with safe_open(str(f), framework="pt") as h:
            for key in h.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                found[key] = (f, tuple(h.get_slice(key).get_shape()))
    missing = [k for k in expected if k not in found and k not in buffers]
    mismatched = [
        f"{k}: checkpoint {list(found[k][1])} vs model {list(expected[k].shape)}"
        for k in expected
        if k in found and tuple(expected[k].shape) != found[k][1]
    ]
    unexpected = [k for k in found if k not in expected and not _unused(k, select_layer)]
    if missing or mismatched or unexpected:
        lines = (
            [f"missing: {k}" for k in missing]
            + [f"shape mismatch: {m}" for m in mismatched]
            + [f"unexpected: {k}" for k in unexpected]
        )
        shown = "\n  ".join(lines[:40]) + (f"\n  ... and {len(lines) - 40} more" if len(lines) > 40 else "")
        raise ConfigError(
            f"Checkpoint {ckpt} does not match the GR00T-N1.5 model built from its config.json "
            f"({len(missing)} missing, {len(mismatched)} mismatched, {len(unexpected)} unexpected):\n  {shown}",
            "Use a GR00T-N1.5 checkpoint whose config.json matches its weights (a different select_layer, "
            "max_state_dim/max_action_dim or DiT size changes these shapes).",
        )
    by_file: dict[Path, list[str]] = {}
    for k in expected:
        if k in found:
            by_file.setdefault(found[k][0], []).append(k)
    with torch.no_grad():
        for f, keys in by_file.items():
            with safe_open(str(f), framework="pt") as h:
                for k in keys:
                    expected[k].copy_(h.get_tensor(k).to(expected[k].dtype))
    skipped = [k for k in found if k not in expected]
    return {"loaded": [k for ks in by_file.values() for k in ks], "skipped_unused": skipped}


def save_checkpoint(model: nn.Module, cfg: dict[str, Any], metadata: dict[str, Any], out: str | Path) -> Path:
    """Write ``model`` (prefixes backbone./action_head.) in the official directory layout."""
    out = Path(out)
    (out / "experiment_cfg").mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    (out / "experiment_cfg" / "metadata.json").write_text(json.dumps(metadata, indent=2))
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out
