"""Checkpoints: policy weights in safetensors, trainer state and RNG, written atomically.

Layout of ``<run>/checkpoints/step_000010/``::

    model.safetensors   policy state dict
    trainer.pt          algorithm state (optimizers, schedulers, counters), torch.save
    rng.pt              torch / numpy / python RNG states
    meta.json           iteration, env steps, resolved config

A checkpoint is written to a temporary sibling directory and renamed into
place, so a crash or a full disk never leaves a half-written checkpoint with
the final name; the previous checkpoint stays valid.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from vlarl.errors import ConfigError

PREFIX = "step_"


def _rng_state() -> dict[str, Any]:
    # Plain tensors, ints and lists only, so it loads with torch.load(weights_only=True).
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_py = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(internal), gauss_py],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_py = state["python"]
    random.setstate((version, tuple(internal), gauss_py))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    root: Path, iteration: int, policy: torch.nn.Module, trainer_state: dict[str, Any], meta: dict[str, Any]
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{iteration:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        weights = {k: v.detach().contiguous().cpu() for k, v in policy.state_dict().items()}
        save_file(weights, str(tmp / "model.safetensors"))
        torch.save(trainer_state, tmp / "trainer.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        (tmp / "meta.json").write_text(json.dumps({**meta, "iteration": iteration}, indent=2, default=str))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def latest_checkpoint(root: Path) -> Path | None:
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / "meta.json").is_file())
    return done[-1] if done else None


def load_weights(path: Path, policy: torch.nn.Module, strict: bool = True) -> None:
    file = path / "model.safetensors"
    if not file.is_file():
        raise ConfigError(
            f"{path} is not a vlarl checkpoint (no model.safetensors).",
            "Pass a checkpoints/step_XXXXXX directory of a run.",
        )
    state = load_file(
        str(file), device=str(next(iter(policy.state_dict().values())).device) if policy.state_dict() else "cpu"
    )
    missing, unexpected = policy.load_state_dict(state, strict=False)
    if strict and (missing or unexpected):
        raise ConfigError(
            f"Checkpoint {file} does not fit the policy: missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]}.",
            "Use the same policy settings as the run that wrote the checkpoint (see its meta.json).",
        )


def resolve_init_checkpoint(value: str) -> Path:
    """``policy.init_checkpoint``: a checkpoint directory, or a run directory (its latest checkpoint)."""
    path = Path(value)
    if (path / "model.safetensors").is_file():
        return path
    for root in (path / "checkpoints", path):
        found = latest_checkpoint(root)
        if found is not None:
            return found
    raise ConfigError(
        f"policy.init_checkpoint={value} holds no checkpoint (no model.safetensors, no checkpoints/step_* inside).",
        "Pass a checkpoints/step_XXXXXX directory, or the directory of a `vlarl sft` / `vlarl train` run.",
    )


def load_init_weights(path: Path, policy: torch.nn.Module) -> None:
    """Start a policy from another run's weights; a checkpoint of another architecture is listed tensor by tensor."""
    own = policy.state_dict()
    state = load_file(str(path / "model.safetensors"), device="cpu")
    problems = [f"{k}: checkpoint {tuple(v.shape)}, policy {tuple(own[k].shape)}" for k, v in state.items()
                if k in own and tuple(v.shape) != tuple(own[k].shape)]  # fmt: skip
    problems += [f"{k}: missing from the checkpoint" for k in own if k not in state]
    problems += [f"{k}: not in the policy" for k in state if k not in own]
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ConfigError(
            f"policy.init_checkpoint {path} does not fit this policy ({len(problems)} mismatched tensors):\n  {shown}",
            "Use the policy settings of the run that wrote it (its config.yaml), or another checkpoint.",
        )
    policy.load_state_dict({k: v.to(own[k].device) for k, v in state.items()})


def load_checkpoint(path: Path, policy: torch.nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
    """Restore weights and RNG; returns (trainer_state, meta)."""
    load_weights(path, policy)
    trainer_state = torch.load(path / "trainer.pt", weights_only=True)
    _set_rng_state(torch.load(path / "rng.pt", weights_only=True))
    meta = json.loads((path / "meta.json").read_text())
    return trainer_state, meta
