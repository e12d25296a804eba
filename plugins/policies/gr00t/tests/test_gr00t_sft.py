"""``vlarl sft`` with GR00T (tiny preset, LIBERO-like embodiment) on LIBERO HDF5 demos with two cameras."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from safetensors.torch import load_file

from vlarl.runner.sft import sft
from vlarl_gr00t.check_setup import CHECK_TAG, libero_like_entry

h5py = pytest.importorskip("h5py", reason="the libero_hdf5 dataset plugin reads HDF5")
pytest.importorskip("vlarl_libero_hdf5", reason="pip install -e plugins/datasets/libero_hdf5")
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "datasets" / "libero_hdf5" / "tests"))
from libero_files import write_libero_file  # noqa: E402


def _demos(root: Path) -> Path:
    """A LIBERO-layout file with agentview and eye-in-hand images (the writer makes the first)."""
    root.mkdir(parents=True)
    path = root / "pick_demo.hdf5"
    write_libero_file(path, lengths=(14, 10), image_size=16)
    rng = np.random.default_rng(1)
    with h5py.File(path, "a") as f:
        for demo in f["data"].values():
            t = len(demo["actions"])
            demo["obs"].create_dataset("eye_in_hand_rgb", data=rng.integers(0, 256, (t, 16, 16, 3), dtype=np.uint8))
    return root


@pytest.mark.slow
def test_sft_lowers_the_loss_and_writes_checkpoints(tmp_path: Path) -> None:
    cfg = OmegaConf.create(
        {
            "dataset": {"name": "libero_hdf5", "paths": [str(_demos(tmp_path / "demos"))],
                        "cameras": ["agentview", "robot0_eye_in_hand"]},
            "policy": {"name": "gr00t", "preset": "tiny", "embodiment_tag": CHECK_TAG,
                       "embodiments": {CHECK_TAG: libero_like_entry()}, "denoising_steps": 4, "max_text_tokens": 64},
            "sft": {"max_steps": 80, "batch_size": 24, "lr": 1e-2, "save_interval": 40, "log_interval": 1},
            "runner": {"logger": {"log_path": str(tmp_path / "runs"), "experiment_name": "g"}, "seed": 0,
                       "torch_threads": 1},
        }
    )  # fmt: skip
    summary = sft(cfg)
    run = tmp_path / "runs" / "g" / "sft"
    assert summary.steps == 80 and summary.checkpoint == run / "checkpoints" / "step_000080"
    losses = [json.loads(line)["sft/loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 80 and np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.93 * np.mean(losses[:10]), losses
    mid, end = (load_file(str(run / "checkpoints" / s / "model.safetensors")) for s in ("step_000040", "step_000080"))
    llm = [k for k in end if ".language_model." in k]
    dit = [k for k in end if k.startswith("model.action_head.model.")]
    assert llm and dit
    assert all((mid[k] == end[k]).all() for k in llm)  # frozen by default (tune_llm false)
    assert any(not (mid[k] == end[k]).all() for k in dit)  # trained (tune_diffusion_model true)
