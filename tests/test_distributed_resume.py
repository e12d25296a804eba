"""Optimizer state resumes at another number of actor ranks (FSDP2 on Gloo): 2 -> 1 and 1 -> 2.

A checkpoint holds whole tensors (consolidated by rank 0) with the optimizer state in the layout of one
process's ``optimizer.state_dict()``, so any world size can load it; FSDP2 ranks reshard it on load. Each
run is tests/dist_update.py as rank processes: one update on a fixed rollout, checkpoint; then resume at
the other world size, dump what was resumed, and train once more on the resumed policy's rollout.
"""

from __future__ import annotations

import importlib.util
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow
_spec = importlib.util.spec_from_file_location(
    "_dist_update_test", Path(__file__).with_name("test_distributed_update.py")
)
_update = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_update)  # its rank-process launcher (pytest imports tests by path, not as a package)

CASE = ("mlp", "ppo")
NUM_ENVS, N_CHUNKS = 8, 4


def runs(*jobs: tuple[Path, str, int, tuple[str, ...]]) -> list[Path]:
    """Several rank groups at once (each blocks on its own processes)."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(_update.run_update, out, *CASE, strategy, world, NUM_ENVS, N_CHUNKS, *extra)
                   for out, strategy, world, extra in jobs]  # fmt: skip
        return [f.result() for f in futures]


def step_dir(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step_{step:06d}"


def trainer_state(run: Path, step: int) -> dict[str, Any]:
    return torch.load(step_dir(run, step) / "trainer.pt", weights_only=True)["algorithm"]


def assert_same(a: Any, b: Any, where: str = "", tol: float = 0.0) -> None:
    """Nested dicts / lists of tensors and numbers equal (tensors within ``tol``)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}", tol)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]", tol)
    elif torch.is_tensor(a):
        assert torch.is_tensor(b) and a.shape == b.shape and a.dtype == b.dtype, f"{where}: {a} vs {b}"
        diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
        assert diff <= tol, f"{where}: differs by {diff}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_optimizer_state_resumes_at_a_different_number_of_ranks(tmp_path):
    two, one = runs((tmp_path / "two", "fsdp", 2, ()), (tmp_path / "one", "none", 1, ()))
    resume = ("--step", "2", "--resume")
    down, up, same = runs(
        (tmp_path / "down", "none", 1, (*resume, str(step_dir(two, 1)))),  # 2 ranks -> 1
        (tmp_path / "up", "fsdp", 2, (*resume, str(step_dir(one, 1)))),  # 1 rank -> 2
        (tmp_path / "same", "none", 1, (*resume, str(step_dir(one, 1)))),  # the single-process reference
    )
    saved2, saved1 = trainer_state(two, 1), trainer_state(one, 1)
    assert saved2["optimizer"]["state"], "the 2-rank checkpoint holds no optimizer state"

    # 2 -> 1: one process holds exactly what the two ranks saved, weights and Adam moments
    assert_same(load_file(str(down / "resumed.safetensors")), load_file(str(step_dir(two, 1) / "model.safetensors")))
    assert_same(torch.load(down / "resumed_trainer.pt", weights_only=True), saved2, "2->1")

    # 1 -> 2: consolidated again it is the saved state, and each rank holds its own half of every tensor
    assert_same(load_file(str(up / "resumed.safetensors")), load_file(str(step_dir(one, 1) / "model.safetensors")))
    assert_same(torch.load(up / "resumed_trainer.pt", weights_only=True), saved1, "1->2")
    order = json.loads((up / "optimizer_params.json").read_text())
    weights = load_file(str(step_dir(one, 1) / "model.safetensors"))
    local = [torch.load(up / f"local_rank{r}.pt", weights_only=True) for r in range(2)]
    assert set(local[0]) == set(order) and any(local[1][n]["param"].numel() for n in order)
    for i, name in enumerate(order):
        full = {"param": weights[name], **{k: v for k, v in saved1["optimizer"]["state"][i].items() if k != "step"}}
        for key, tensor in full.items():
            halves = torch.cat([local[0][name][key], local[1][name][key]])
            assert_same(halves, tensor, f"{name}.{key} over 2 ranks")
            assert local[0][name][key].shape[0] == (tensor.shape[0] + 1) // 2  # sharded, not replicated

    # a further update runs after either resume and lands where the single-process resume lands
    after = {run: load_file(str(step_dir(run, 2) / "model.safetensors")) for run in (down, up, same)}
    before = load_file(str(step_dir(one, 1) / "model.safetensors"))
    assert max(float((after[same][k] - before[k]).abs().max()) for k in before) > 1e-3
    for run in (down, up):
        assert_same(after[run], after[same], f"{run.name} step 2", tol=1e-5)
        assert_same(trainer_state(run, 2)["optimizer"], trainer_state(same, 2)["optimizer"], f"{run.name}", tol=1e-5)
    assert trainer_state(up, 2)["num_updates"] == trainer_state(same, 2)["num_updates"] == 2
