"""Shared fixtures: specs, observations, and a tiny checkpoint written in the official HF layout."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vlarl.contracts.spaces import ActionSpec, ObservationSpec
from vlarl_openvla_oft.arch import tiny_arch
from vlarl_openvla_oft.policy import make
from vlarl_openvla_oft.register import OpenVLAOFTConfig

SIZE = 112  # the tiny preset's input size: no resize in most tests
OBS_SPEC = ObservationSpec(states=(8,), images=(3, SIZE, SIZE), wrist_images=(3, SIZE, SIZE))
ACTION_SPEC = ActionSpec.box(7)


def make_obs(n: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    tasks = ["pick up the black bowl and place it on the plate", "open the top drawer"]
    return {
        "images": rng.integers(0, 256, (n, 3, SIZE, SIZE), dtype=np.uint8),
        "wrist_images": rng.integers(0, 256, (n, 3, SIZE, SIZE), dtype=np.uint8),
        "states": rng.standard_normal((n, 8)).astype(np.float32),
        "task_descriptions": [tasks[i % 2] for i in range(n)],
    }


def build(**kw) -> object:
    return make(OpenVLAOFTConfig(**kw), observation_spec=OBS_SPEC, action_spec=ACTION_SPEC)


STATS = {
    "libero_spatial_no_noops": {
        "action": {
            "q01": [-0.75, -0.8, -0.9, -0.1, -0.15, -0.2, 0.0],
            "q99": [0.9, 0.85, 0.95, 0.12, 0.16, 0.25, 1.0],
            "mask": [True, True, True, True, True, True, False],
        },
        "proprio": {"q01": [-1.0] * 8, "q99": [1.0] * 8},
    },
    "libero_goal_no_noops": {
        "action": {"q01": [-1.0] * 7, "q99": [1.0] * 7, "mask": [True] * 6 + [False]},
        "proprio": {"q01": [-2.0] * 8, "q99": [2.0] * 8},
    },
}


def write_official_checkpoint(policy, directory: Path, shards: int = 2) -> Path:
    """Write ``policy.model`` the way an OpenVLA-OFT fine-tuning run leaves its checkpoint directory."""
    directory.mkdir(parents=True, exist_ok=True)
    model = policy.model
    arch = tiny_arch()
    sd = {}
    for prefix in ("vision_backbone", "projector", "language_model"):
        for k, v in getattr(model, prefix).state_dict().items():
            sd[f"{prefix}.{k}"] = v.contiguous().clone()
    names = sorted(sd)
    weight_map = {}
    for i in range(shards):
        part = names[i::shards]
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: sd[k] for k in part}, str(directory / fname), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, fname))
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    config = {
        "architectures": ["OpenVLAForActionPrediction"],
        "model_type": "openvla",
        "vision_backbone_id": "dinosiglip-vit-so-224px",
        "llm_backbone_id": "llama2-7b-pure",
        "arch_specifier": "no-align+fused-gelu-mlp",
        "use_fused_vision_backbone": True,
        "image_resize_strategy": "resize-naive",
        "image_sizes": list(arch.image_sizes),
        "timm_model_ids": list(arch.timm_ids),
        "timm_override_act_layers": [None, None],
        "n_action_bins": 256,
        "pad_to_multiple_of": 64,
        "pad_token_id": 0,
        "text_config": {"model_type": "llama", **arch.text_config},
        "vlarl_vit_args": [asdict(v) for v in arch.vits],
    }
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "dataset_statistics.json").write_text(json.dumps(STATS))
    for attr in ("action_head", "proprio_projector"):
        sub = getattr(model, attr)
        if sub is not None:  # official files come from DDP: keys carry "module."
            torch.save(
                {f"module.{k}": v for k, v in sub.state_dict().items()}, directory / f"{attr}--100_checkpoint.pt"
            )
    return directory


@pytest.fixture(scope="session")
def tiny_l1_policy():
    return build(action_head="l1", seed=3)


@pytest.fixture(scope="session")
def official_ckpt(tmp_path_factory, tiny_l1_policy) -> Path:
    return write_official_checkpoint(tiny_l1_policy, tmp_path_factory.mktemp("ckpt") / "openvla-oft-tiny")


@pytest.fixture(scope="session")
def h():
    """Helpers for the test modules (pytest's importlib mode cannot import conftest directly)."""
    import types

    return types.SimpleNamespace(
        OBS_SPEC=OBS_SPEC, ACTION_SPEC=ACTION_SPEC, STATS=STATS, build=build, make_obs=make_obs,
        write_official_checkpoint=write_official_checkpoint,
    )  # fmt: skip
