"""``vlarl sft`` end to end: a tiny OpenVLA-OFT on LIBERO-layout HDF5 demos with both cameras (libero_hdf5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from safetensors.torch import load_file

h5py = pytest.importorskip("h5py")
pytest.importorskip("vlarl_libero_hdf5")

from vlarl.runner.sft import sft  # noqa: E402

TASK = "put the bowl on the plate"


def write_demos(path: Path, lengths: tuple[int, ...] = (12, 9), size: int = 16, seed: int = 0) -> None:
    """A LIBERO-layout file (data/demo_i: actions, obs/ee_states, gripper_states, agentview_rgb,
    eye_in_hand_rgb): a scripted push with +-1 gripper actions, so a chunk is predictable from state."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["problem_info"] = json.dumps({"language_instruction": TASK})
        data.attrs["macros_image_convention"] = "opengl"
        for i, t in enumerate(lengths):
            demo = data.create_group(f"demo_{i}")
            phase = np.linspace(0, 1, t)[:, None]
            actions = np.concatenate([0.5 * np.ones((t, 3)), np.zeros((t, 3)), np.where(phase > 0.5, 1.0, -1.0)], 1)
            noise = 0.01 * rng.standard_normal((t, 7))
            noise[:, 6] = 0.0  # LIBERO's gripper actions are exactly -1 (open) / +1 (close)
            demo.create_dataset("actions", data=actions + noise)
            obs = demo.create_group("obs")
            obs.create_dataset("ee_states", data=np.concatenate([phase.repeat(3, 1), np.zeros((t, 3))], 1))
            obs.create_dataset("gripper_states", data=np.full((t, 2), 0.02))
            for key in ("agentview_rgb", "eye_in_hand_rgb"):
                obs.create_dataset(key, data=rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8))


def config(tmp_path: Path, head: str) -> OmegaConf:
    data = tmp_path / "demos"
    data.mkdir(exist_ok=True)
    write_demos(data / "task_demo.hdf5")
    return OmegaConf.create(
        {
            "dataset": {"name": "libero_hdf5", "paths": [str(data)], "cameras": ["agentview", "robot0_eye_in_hand"]},
            "policy": {
                "name": "openvla_oft", "preset": "tiny", "action_head": head, "action_chunk": 4,
                "gripper_postprocess": "openvla", "image_aug": True, "use_lora": True, "lora_rank": 8,
                "resize_method": "bicubic", "value_head": False,
            },
            "sft": {"max_steps": 12, "batch_size": 4, "lr": 2e-3, "save_interval": 12, "log_interval": 3},
            "runner": {"logger": {"log_path": str(tmp_path / "runs"), "experiment_name": "oft"}, "seed": 1},
        }
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("head", ["discrete", "l1"])
def test_sft_lowers_the_loss_and_writes_a_checkpoint(tmp_path: Path, head: str) -> None:
    summary = sft(config(tmp_path, head))
    run = tmp_path / "runs" / "oft" / "sft"
    assert summary.steps == 12 and summary.checkpoint == run / "checkpoints" / "step_000012"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == [3, 6, 9, 12]
    assert logged[-1]["sft/loss"] < logged[0]["sft/loss"], [m["sft/loss"] for m in logged]
    assert "sft/curr_action_l1_loss" in logged[-1]
    weights = load_file(str(summary.checkpoint / "model.safetensors"))
    assert any("lora_A" in k for k in weights) and any(k.startswith("model.proprio_projector") for k in weights)
