"""The real adapter end to end through its spawned worker, on the fake isaaclab (and on the real one if present)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl.errors import ConfigError, PluginError
from vlarl.testing import check_env
from vlarl_isaaclab.env import IsaacLabVectorEnv
from vlarl_isaaclab.register import IsaacLabEnvConfig, _is_test_fake

EXAMPLE = Path(__file__).parents[1] / "examples" / "my_isaaclab_task"
COSMOS = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos-v0"


def worker_children() -> list[int]:
    """Pids of this process's live env worker processes (vlarl's core pool), from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"vlarl.envs.worker" in cmd:
            out.append(int(stat.parent.name))
    return out


def _cfg(**kw) -> IsaacLabEnvConfig:
    base = dict(
        num_envs=4, device="cpu", image_size=24, wrist_image_size=16, max_episode_steps=12, startup_timeout_s=120
    )
    return IsaacLabEnvConfig(**{**base, **kw})


@pytest.mark.slow
def test_conformance_kit_passes_on_fake(fake_isaaclab, registry_for) -> None:
    reg = registry_for()
    check_env(lambda: IsaacLabVectorEnv(_cfg(), registry=reg), chunk_len=4, name="isaaclab").raise_if_failed()


@pytest.mark.slow
def test_worker_start_order_sizes_and_teardown(fake_isaaclab, registry_for, tmp_path, monkeypatch) -> None:
    log = tmp_path / "events.log"
    monkeypatch.setenv("FAKE_ISAACLAB_LOG", str(log))
    env = IsaacLabVectorEnv(_cfg(task=COSMOS), registry=registry_for())
    pid = env.worker_pid
    try:
        assert env.observation_spec.images == (3, 24, 24) and env.observation_spec.wrist_images == (3, 16, 16)
        assert env.observation_spec.states == (8,) and env.action_spec.dim == 7
        assert env.action_spec.gripper == "open_positive" and env.action_spec.gripper_indices == [6]
        obs, _ = env.reset(seed=1)
        assert isinstance(obs["states"], torch.Tensor) and obs["states"].device == env.device
        assert obs["task_descriptions"][0].startswith("Stack the red block")
        step = env.chunk_step(np.zeros((4, 3, 7), dtype=np.float32))
        assert step.rewards.shape == (4, 3) and step.valid.dtype == torch.bool
    finally:
        env.close()
    lines = log.read_text().splitlines()
    assert lines[0] == "launch headless=True enable_cameras=True device=cpu"
    assert lines[1] == "import isaaclab_tasks"
    assert lines[2] == "env.init num_envs=4 device=cpu table_cam=24x24 wrist_cam=16x16 decimation=5"
    assert lines[-2:] == ["env.close", "app.close"]
    assert pid is not None and pid not in worker_children()  # ended and reaped


@pytest.mark.slow
def test_isaaclab_3_launch_ids_overrides_and_quaternions(fake_isaaclab_3, registry_for, tmp_path, monkeypatch) -> None:
    log = tmp_path / "events.log"
    monkeypatch.setenv("FAKE_ISAACLAB_LOG", str(log))
    # the 2.x id resolves to the 3.0 one (IsaacContrib-..., no -v0) through the built-in task's aliases
    env = IsaacLabVectorEnv(_cfg(task=COSMOS, cfg_overrides=["decimation=3"]), registry=registry_for())
    try:
        obs, _ = env.reset(seed=2)
        # small start rotations: read as xyzw they stay small; read as wxyz (x taken for w) they come out near pi
        assert float(obs["states"][:, 3:6].norm(dim=1).max()) < 0.5
        step = env.chunk_step(np.zeros((4, 2, 7), dtype=np.float32))
        assert step.valid[:, 0].all()
    finally:
        env.close()
    lines = log.read_text().splitlines()
    assert lines[0] == "launch headless=True enable_cameras=True device=cpu"  # launch_simulation, not AppLauncher
    assert "deprecated AppLauncher" not in lines
    assert lines[2] == "env.init num_envs=4 device=cpu table_cam=24x24 wrist_cam=16x16 decimation=3"
    assert lines[-2:] == ["env.close", "app.close"]


def test_cfg_overrides_need_isaaclab_3(fake_isaaclab, registry_for) -> None:
    with pytest.raises(ConfigError, match=r"needs IsaacLab 3\.x"):
        IsaacLabVectorEnv(_cfg(cfg_overrides=["decimation=3"]), registry=registry_for())


@pytest.mark.slow
def test_failing_task_package_returns_traceback_and_tears_down(
    fake_isaaclab, dist_root, registry_for, tmp_path, monkeypatch
) -> None:
    (dist_root / "broken_tasks.py").write_text("import isaaclab.envs\nraise RuntimeError('bad cfg in broken_tasks')\n")
    log = tmp_path / "events.log"
    monkeypatch.setenv("FAKE_ISAACLAB_LOG", str(log))
    with pytest.raises(PluginError) as err:
        IsaacLabVectorEnv(_cfg(extra_task_packages=["broken_tasks"]), registry=registry_for())
    assert "importing the task package 'broken_tasks'" in err.value.problem
    assert "Traceback" in err.value.problem and "bad cfg in broken_tasks" in err.value.problem
    assert "broken_tasks" in err.value.fix
    assert log.read_text().splitlines()[-1] == "app.close"
    assert not worker_children()


@pytest.mark.slow
def test_example_user_task_package_end_to_end(fake_isaaclab, tmp_path, monkeypatch, registry_for) -> None:
    target, source = tmp_path / "site", tmp_path / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # keep the tree clean
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.syspath_prepend(str(target))
    reg = registry_for("my-isaaclab-task")
    assert not reg.failures, [f.message() for f in reg.failures]
    from vlarl_isaaclab.taskdecl import describe_tasks

    rows = {r["task"]: r["distribution"] for r in describe_tasks(reg)}
    assert rows["Vlarl-Example-Reach-Franka-v0"] == "my-isaaclab-task"
    env = IsaacLabVectorEnv(_cfg(task="Vlarl-Example-Reach-Franka-v0", num_envs=2), registry=reg)
    try:
        # its own mapping: main camera only, states = eef_pos (3) + gripper_pos (2)
        assert env.observation_spec.wrist_images is None and env.observation_spec.states == (5,)
        obs, _ = env.reset(seed=0)
        assert (
            "wrist_images" not in obs
            and obs["task_descriptions"] == ["Move the gripper to the target and keep it open."] * 2
        )
        step = env.chunk_step(torch.zeros(2, 2, 7))
        assert step.valid[:, 0].all()
    finally:
        env.close()


@pytest.mark.requires_isaaclab
@pytest.mark.skipif(importlib.util.find_spec("isaaclab") is None or _is_test_fake(), reason="needs the real isaaclab")
def test_real_stack_cube_runs_a_few_chunks() -> None:
    cfg = IsaacLabEnvConfig(task=COSMOS, num_envs=2, image_size=64, wrist_image_size=64, max_episode_steps=16)
    env = IsaacLabVectorEnv(cfg)
    try:
        obs, _ = env.reset(seed=0)
        assert obs["images"].shape == (2, 3, 64, 64) and obs["states"].shape == (2, 8)
        for _ in range(3):
            step = env.chunk_step(torch.zeros(2, 8, 7, device=env.device))
            assert step.valid[:, 0].all()
    finally:
        env.close()
