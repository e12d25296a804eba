"""``vlarl sft`` with the VLA policies on a LeRobot dataset (tiny OpenVLA-OFT and tiny GR00T, LeRobot v2.1 / v3.0),
and the bad input of a dataset whose actions are wider than the policy's. The same policies on LIBERO HDF5 demos:
plugins/policies/openvla_oft/tests/test_openvla_oft_sft_run.py and plugins/policies/gr00t/tests/test_gr00t_sft.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import OmegaConf
from safetensors.torch import load_file

pytest.importorskip("vlarl_lerobot", reason="pip install -e plugins/datasets/lerobot")
sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "datasets" / "lerobot" / "tests"))
from lerobot_files import CAMERAS, MODALITY, write_dataset

from vlarl.errors import ConfigError
from vlarl.runner.sft import sft
from vlarl_lerobot.gr00t_metadata import write_metadata


def _run(tmp_path: Path, dataset: dict[str, Any], policy: dict[str, Any], steps: int, **sft_keys: Any) -> Any:
    cfg = OmegaConf.create({
        "dataset": {"name": "lerobot", **dataset},
        "policy": policy,
        "sft": {"max_steps": steps, "batch_size": 8, "lr": 2e-3, "save_interval": steps, "log_interval": 1, **sft_keys},
        "runner": {"logger": {"log_path": str(tmp_path / "runs"), "experiment_name": "e"}, "seed": 0,
                   "torch_threads": 1},
    })  # fmt: skip
    return sft(cfg)


def _losses(tmp_path: Path) -> list[float]:
    lines = (tmp_path / "runs" / "e" / "sft" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["sft/loss"] for line in lines]


OFT = {"name": "openvla_oft", "preset": "tiny", "action_head": "l1", "action_chunk": 4, "use_lora": True,
       "lora_rank": 8, "resize_method": "bicubic", "value_head": False, "gripper_postprocess": "openvla"}  # fmt: skip


def _gr00t(metadata: Path) -> dict[str, Any]:
    return {"name": "gr00t", "preset": "tiny", "metadata_path": str(metadata), "embodiment_tag": "new_embodiment",
            "embodiment_ids": {"new_embodiment": 1}, "denoising_steps": 2, "max_text_tokens": 16}  # fmt: skip


@pytest.mark.slow
def test_openvla_oft_sft_on_a_lerobot_v21_dataset(tmp_path: Path) -> None:
    write_dataset(tmp_path / "ds", version="v2.1", lengths=(12, 10), size=16)
    summary = _run(
        tmp_path,
        {"root": str(tmp_path / "ds"), "images": CAMERAS[0], "wrist_images": [CAMERAS[1]],
         "gripper_dims": [6], "gripper_convention": "close_positive"},
        OFT, steps=10,
    )  # fmt: skip
    losses = _losses(tmp_path)
    assert summary.steps == 10 and len(losses) == 10 and np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    weights = load_file(str(summary.checkpoint / "model.safetensors"))
    assert any("lora_A" in k for k in weights)


@pytest.mark.slow
def test_gr00t_sft_on_a_lerobot_v30_dataset_with_its_metadata(tmp_path: Path) -> None:
    write_dataset(tmp_path / "ds", version="v3.0", lengths=(12, 10, 9), size=16, modality=MODALITY)
    metadata = write_metadata(tmp_path / "ds", tmp_path / "metadata.json", "new_embodiment")
    dataset = {"root": str(tmp_path / "ds"), "modality": True}
    summary = _run(tmp_path, dataset, _gr00t(metadata), steps=20, lr=1e-2, save_interval=10)
    losses = _losses(tmp_path)
    # random actions: the flow loss is finite and training moves the trained parts (the DiT), not the frozen LLM
    assert summary.steps == 20 and len(losses) == 20 and np.isfinite(losses).all()
    ckpts = tmp_path / "runs" / "e" / "sft" / "checkpoints"
    mid, end = (load_file(str(ckpts / s / "model.safetensors")) for s in ("step_000010", "step_000020"))
    dit = [k for k in end if k.startswith("model.action_head.model.")]
    llm = [k for k in end if ".language_model." in k]
    assert dit and llm and any(not (mid[k] == end[k]).all() for k in dit) and all((mid[k] == end[k]).all() for k in llm)


def test_gr00t_reads_the_dataset_statistics_into_its_normalizer(tmp_path: Path) -> None:
    w = write_dataset(tmp_path / "ds", version="v2.1", lengths=(20, 20), modality=MODALITY)
    metadata = write_metadata(tmp_path / "ds", tmp_path / "metadata.json", "new_embodiment")
    from vlarl_gr00t.policy import build_policy
    from vlarl_gr00t.register import Gr00tConfig

    cfg = {k: v for k, v in _gr00t(metadata).items() if k != "name"}
    policy = build_policy(Gr00tConfig(**cfg), use_hooks=False)
    actions = np.concatenate([e["actions"] for e in w["episodes"]]).astype(np.float64)
    # min_max (the default mode): the dataset's min maps to -1 and its max to +1, key by key
    lo, hi = actions.min(0), actions.max(0)
    np.testing.assert_allclose(policy.embodiment.normalize_action(np.stack([lo, hi])), [[-1] * 7, [1] * 7], atol=1e-5)
    assert list(policy.embodiment.state) == ["x", "rot", "gripper"] and policy.embodiment.video_keys == [
        "image",
        "wrist_image",
    ]


@pytest.mark.parametrize("policy", ["gr00t", "openvla_oft"])
def test_actions_wider_than_the_policys_are_named_before_training(tmp_path: Path, policy: str) -> None:
    # the embodiment (metadata of a 7-dim dataset) acts in 7 dims; this dataset's action column has 8
    write_dataset(tmp_path / "seven", lengths=(4,), modality=MODALITY)
    metadata = write_metadata(tmp_path / "seven", tmp_path / "metadata.json", "new_embodiment")
    write_dataset(tmp_path / "ds", lengths=(6,), action_dim=8)
    dataset = {"root": str(tmp_path / "ds"), "images": CAMERAS[0], "wrist_images": [CAMERAS[1]]}
    spec = _gr00t(metadata) if policy == "gr00t" else {**OFT, "action_dim": 7}
    with pytest.raises(ConfigError) as err:
        _run(tmp_path, dataset, spec, steps=2)
    msg = str(err.value)
    assert str(tmp_path / "ds" / "meta" / "info.json") in msg and "action[0:]" in msg and "8 dims" in msg
    assert "dataset.actions" in msg.split("Fix:")[1]
    assert not (tmp_path / "runs" / "e" / "sft" / "checkpoints").exists() or not any(
        (tmp_path / "runs" / "e" / "sft" / "checkpoints").iterdir()
    )
