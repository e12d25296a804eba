"""Checkpoints: the official OpenVLA / OpenVLA-OFT Hugging Face layout, and vlarl's own safetensors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from vlarl.errors import VlarlError
from vlarl_openvla_oft.arch import DINOSIGLIP_224, Arch
from vlarl_openvla_oft.vit import TIMM_VITS, ViTArgs

# config.json `vision_backbone_id` -> timm ids (configuration_prismatic.py); only the 224px fused one is built.
VISION_BACKBONES = {"dinosiglip-vit-so-224px": list(DINOSIGLIP_224)}
MAX_LISTED = 25


class CheckpointError(VlarlError):
    """A checkpoint directory that is incomplete or does not match the model."""


def _need(path: Path, what: str, fix: str) -> Path:
    if not path.exists():
        raise CheckpointError(f"Checkpoint file missing: {path} ({what}).", fix)
    return path


def read_official_config(directory: str | Path) -> tuple[Arch, dict[str, Any]]:
    """(architecture, all dataset statistics) of an official checkpoint directory, checking its files."""
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(
            f"Checkpoint directory {d} does not exist.", "Set policy.checkpoint to a local directory."
        )
    cfg = json.loads(_need(d / "config.json", "model config", "Copy config.json from the checkpoint.").read_text())
    backbone = cfg.get("vision_backbone_id")
    if backbone not in VISION_BACKBONES:
        raise CheckpointError(
            f"{d / 'config.json'}: vision_backbone_id={backbone!r} is not supported.",
            f"Use an OpenVLA checkpoint with one of: {', '.join(VISION_BACKBONES)}.",
        )
    timm_ids = cfg.get("timm_model_ids") or VISION_BACKBONES[backbone]
    # vlarl extension for tiny test checkpoints: explicit ViT sizes instead of the timm id's real ones.
    override = cfg.get("vlarl_vit_args")
    vits = [ViTArgs(**o) for o in override] if override else [TIMM_VITS[t] for t in timm_ids]
    arch = Arch(
        vits=vits,
        timm_ids=list(timm_ids),
        text_config=dict(cfg.get("text_config") or {}),
        pad_to_multiple_of=int(cfg.get("pad_to_multiple_of", 64)),
        n_action_bins=int(cfg.get("n_action_bins", 256)),
        image_sizes=list(cfg.get("image_sizes", [224, 224])),
    )
    arch.text_config.pop("model_type", None)
    arch.text_config.pop("torch_dtype", None)
    stats_path = d / "dataset_statistics.json"
    if stats_path.exists():
        stats = json.loads(stats_path.read_text())
    elif cfg.get("norm_stats"):
        stats = cfg["norm_stats"]
    else:
        _need(
            stats_path, "action un-normalization statistics", "Copy dataset_statistics.json from the fine-tuning run."
        )
    _weight_files(d)  # fail early on missing weights
    return arch, stats


def _weight_files(d: Path) -> list[Path]:
    index = d / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        for f in files:
            _need(
                d / f, "weight shard named in model.safetensors.index.json", "Download every shard of the checkpoint."
            )
        return [d / f for f in files]
    single = d / "model.safetensors"
    _need(single, "weights: model.safetensors or model.safetensors.index.json", "Download the safetensors weights.")
    return [single]


def _component_file(d: Path, pattern: str) -> Path:
    hits = sorted(p for p in d.iterdir() if pattern in p.name and "checkpoint" in p.name)
    if len(hits) != 1:
        raise CheckpointError(
            f"Expected exactly one {pattern}--*_checkpoint.pt in {d}, found {len(hits)}: {[h.name for h in hits]}.",
            f"Copy the OFT {pattern} file of the same training step into the checkpoint directory "
            "(or disable it: policy.action_head=discrete / policy.use_proprio=false).",
        )
    return hits[0]


def _rename(name: str) -> str | None:
    if name.endswith("rotary_emb.inv_freq"):
        return None  # derived buffer, rebuilt from the config
    return name.replace(".ls1.gamma", ".ls1.scale_factor").replace(".ls2.gamma", ".ls2.scale_factor")


def check_and_load(
    module: nn.Module, tensors: dict[str, torch.Tensor], where: str, strict_missing: bool = True
) -> None:
    """Load ``tensors`` into ``module`` after listing every missing, unexpected or mis-shaped tensor."""
    expected = module.state_dict()
    problems = []
    for name, t in tensors.items():
        if name not in expected:
            problems.append(f"unexpected tensor {name} {tuple(t.shape)} (the model has no such parameter)")
        elif tuple(expected[name].shape) != tuple(t.shape):
            problems.append(f"{name}: expected shape {tuple(expected[name].shape)}, found {tuple(t.shape)}")
    if strict_missing:
        problems += [
            f"missing tensor {n} (expected shape {tuple(v.shape)})" for n, v in expected.items() if n not in tensors
        ]
    if problems:
        listed = "\n".join(f"- {p}" for p in problems[:MAX_LISTED])
        more = f"\n- ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise CheckpointError(
            f"{where} does not match the model ({len(problems)} problem(s)):\n{listed}{more}",
            "Use a checkpoint of the same architecture and options (action_head, use_proprio, action_chunk, "
            "action_dim, LoRA settings) or fix the config to match it.",
        )
    with torch.no_grad():
        for name, t in tensors.items():
            expected[name].copy_(t.to(expected[name].dtype))


def load_official_weights(model: nn.Module, directory: str | Path) -> None:
    """Fill ``model`` (a PrismaticOFT) from an official checkpoint directory."""
    d = Path(directory)
    tensors: dict[str, torch.Tensor] = {}
    for f in _weight_files(d):
        with safe_open(str(f), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 - safe_open has no __iter__
                new = _rename(key)
                if new is not None:
                    tensors[new] = fh.get_tensor(key)
    base = {k: v for k, v in tensors.items() if not k.startswith(("proprio_projector.", "action_head.", "value_head."))}
    targets = nn.ModuleDict(
        {"vision_backbone": model.vision_backbone, "projector": model.projector, "language_model": model.language_model}
    )
    check_and_load(targets, base, f"Checkpoint weights in {d}")
    for attr, pattern in (("proprio_projector", "proprio_projector"), ("action_head", "action_head")):
        sub = getattr(model, attr)
        if sub is None:
            continue
        path = _component_file(d, pattern)
        sd = torch.load(path, map_location="cpu", weights_only=True)
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
        check_and_load(sub, sd, str(path))


def save_vlarl_checkpoint(policy: nn.Module, directory: str | Path, meta: dict[str, Any], trainable_only: bool) -> Path:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    names = {n for n, p in policy.named_parameters() if p.requires_grad} if trainable_only else None
    sd = {k: v.detach().contiguous().cpu() for k, v in policy.state_dict().items() if names is None or k in names}
    save_file(sd, str(d / "model.safetensors"), metadata={"format": "pt", "trainable_only": str(trainable_only)})
    (d / "vlarl_policy.json").write_text(json.dumps({**meta, "trainable_only": trainable_only}, indent=1))
    return d


def read_vlarl_meta(directory: str | Path) -> dict[str, Any]:
    d = Path(directory)
    _need(
        d / "vlarl_policy.json", "vlarl policy metadata", "Point policy.vlarl_checkpoint at a directory saved by vlarl."
    )
    _need(
        d / "model.safetensors", "vlarl policy weights", "Point policy.vlarl_checkpoint at a directory saved by vlarl."
    )
    return json.loads((d / "vlarl_policy.json").read_text())


def load_vlarl_weights(policy: nn.Module, directory: str | Path) -> None:
    d = Path(directory)
    meta = read_vlarl_meta(d)
    with safe_open(str(d / "model.safetensors"), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    check_and_load(policy, tensors, f"vlarl checkpoint {d}", strict_missing=not meta.get("trainable_only", False))
