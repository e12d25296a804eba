"""``vlarl sft`` end to end on LIBERO-format HDF5 demos + the mlp policy: learning, checkpoints, exact resume,
starting from a checkpoint, and the errors a user meets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file

from vlarl.cli import main
from vlarl.errors import ConfigError
from vlarl.runner.sft import sample_indices, sft

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "datasets" / "libero_hdf5" / "tests"))
from libero_files import write_libero_file


def config(tmp_path: Path, **sft_keys) -> OmegaConf:
    data = tmp_path / "demos"
    if not data.exists():
        data.mkdir(parents=True)
        write_libero_file(data / "task_demo.hdf5", lengths=(30, 25, 20), image_size=None)
    return OmegaConf.create(
        {
            "dataset": {"name": "libero_hdf5", "paths": [str(data)], "privileged_state": True},
            "policy": {"name": "mlp", "num_action_chunks": 4, "hidden_sizes": [32, 32]},
            "sft": {"max_steps": 20, "batch_size": 16, "lr": 3e-3, "save_interval": 10, "log_interval": 5, **sft_keys},
            "runner": {"logger": {"log_path": str(tmp_path / "runs"), "experiment_name": "e"}, "seed": 3},
        }
    )


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step_{step:06d}" / "model.safetensors"))


def test_sft_learns_and_writes_checkpoints_logs_and_config(tmp_path: Path) -> None:
    summary = sft(config(tmp_path, max_steps=60, save_interval=30))
    run = tmp_path / "runs" / "e" / "sft"
    assert summary.run_dir == run and summary.steps == 60
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_000030", "step_000060"]
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == list(range(5, 61, 5))
    assert logged[-1]["sft/loss"] < logged[0]["sft/loss"]
    assert (run / "tensorboard").is_dir() and OmegaConf.load(run / "config.yaml").sft.max_steps == 60


def test_resumed_sft_equals_an_unbroken_run(tmp_path: Path) -> None:
    sft(config(tmp_path / "a"))
    sft(config(tmp_path / "b", max_steps=10))
    sft(config(tmp_path / "b", resume="auto"))
    a, b = weights(tmp_path / "a" / "runs" / "e" / "sft", 20), weights(tmp_path / "b" / "runs" / "e" / "sft", 20)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sample_indices_cover_each_epoch_once() -> None:
    drawn = [sample_indices(s, 7, 21, seed=0) for s in range(3)]
    assert sorted(int(i) for d in drawn for i in d) == list(range(21))
    assert sample_indices(1, 7, 21, seed=0).tolist() == drawn[1].tolist()


def test_init_checkpoint_of_another_architecture_lists_the_tensors(tmp_path: Path) -> None:
    sft(config(tmp_path, max_steps=10))
    cfg = config(tmp_path, max_steps=10, subdir="sft2")
    cfg.policy.hidden_sizes = [16, 16]
    cfg.policy.init_checkpoint = str(tmp_path / "runs" / "e" / "sft")
    with pytest.raises(ConfigError) as exc:
        sft(cfg)
    assert "does not fit this policy" in str(exc.value) and "actor.0.weight: checkpoint (32, " in str(exc.value)
    cfg.policy.hidden_sizes = [32, 32]
    assert sft(cfg).steps == 10  # same architecture: starts from it


def test_cli_reports_bad_datasets_without_a_traceback(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    cfg = config(tmp_path)
    cfg.dataset.paths = [str(tmp_path / "missing")]
    OmegaConf.save(cfg, path)
    assert main(["sft", str(path)]) == 2
    err = capsys.readouterr().err
    assert "missing does not exist" in err and "Traceback" not in err
    assert main(["sft", str(path), "sft.max_steps=0"]) == 2
    assert "sft.max_steps must be >= 1" in capsys.readouterr().err


def test_statistics_cover_every_sample(tmp_path: Path) -> None:
    import numpy as np

    from vlarl.contracts.dataset import compute_statistics
    from vlarl_libero_hdf5.dataset import LiberoHDF5Dataset
    from vlarl_libero_hdf5.register import LiberoHDF5Config

    w = write_libero_file(tmp_path / "t_demo.hdf5", lengths=(7, 5), image_size=None)
    ds = LiberoHDF5Dataset(LiberoHDF5Config(paths=[str(tmp_path)]))
    stats = compute_statistics(ds, batch_size=5)  # batches straddle the episodes
    states = np.concatenate([np.c_[e, g] for e, g in zip(w["ee_states"], w["gripper_states"])])
    np.testing.assert_allclose(stats.state_mean, states.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.state_std, states.std(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.action_mean, np.concatenate(w["actions"]).mean(0), rtol=1e-5, atol=1e-6)
