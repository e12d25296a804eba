"""Pieces of vlarl-behavior that need no worker process: spec, tasks, preflight, config, observations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl.errors import ConfigError, ContractError, PluginError
from vlarl_behavior import obs, omni_config, preflight, robot, tasks
from vlarl_behavior.register import BehaviorEnvConfig

from .conftest import ACTIVITY, SCENE, fake_nvidia_smi, write_instances


def test_register_module_imports_nothing_heavy():
    code = (
        "import sys, vlarl_behavior.register as r; specs = r.vlarl_register();"
        "heavy = [m for m in ('torch', 'numpy', 'omnigibson', 'vlarl_behavior.env') if m in sys.modules];"
        "print(specs[0].name, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "behavior []"


def test_action_spec_layout_and_bounds():
    spec = robot.action_spec()
    assert spec.dim == robot.ACTION_DIM == 23
    assert spec.names[:3] == ["base_x", "base_y", "base_yaw"]
    assert spec.names[3:7] == [f"torso_j{i}" for i in range(1, 5)]
    assert spec.names[14] == "left_gripper" and spec.names[22] == "right_gripper"
    assert spec.gripper_indices == [14, 22] and spec.gripper == "open_positive"
    assert np.all(spec.low < spec.high)
    assert spec.high[0] == pytest.approx(0.75) and spec.low[2] == pytest.approx(-1.0)


def test_proprio_default_layout_is_256_dims():
    assert sum(robot.PROPRIO_DIMS[k] for k in robot.DEFAULT_PROPRIO_OBS) == 256


def test_unknown_activity_lists_close_matches():
    with pytest.raises(ConfigError) as err:
        tasks.check_activity("turning_on_radoi")
    assert "turning_on_radio" in str(err.value)
    tasks.check_activity("make_pizza")  # a challenge activity passes


def test_description_lookup_order(tmp_path: Path):
    assert tasks.describe(ACTIVITY, override="Do it.") == "Do it."
    assert "radio" in tasks.describe(ACTIVITY, data_path=str(tmp_path)).lower()
    meta = tmp_path / "2025-challenge-task-instances" / "metadata"
    meta.mkdir(parents=True)
    (meta / "tasks.jsonl").write_text(json.dumps({"task_index": 0, "task_name": ACTIVITY, "task": "From data."}) + "\n")
    assert tasks.describe(ACTIVITY, data_path=str(tmp_path)) == "From data."
    user = tmp_path / "mine.jsonl"
    user.write_text(json.dumps({"task_name": ACTIVITY, "task": "From user."}) + "\n")
    assert tasks.describe(ACTIVITY, descriptions_file=str(user), data_path=str(tmp_path)) == "From user."
    assert tasks.describe("chopping_wood", data_path=str(tmp_path)) == "Chopping wood."
    with pytest.raises(ConfigError, match="does not exist"):
        tasks.describe(ACTIVITY, descriptions_file=str(tmp_path / "missing.jsonl"))


def test_instances_found_and_missing_ones_named(tmp_path: Path):
    write_instances(tmp_path)
    scene, files = tasks.resolve_instances(str(tmp_path), ACTIVITY, 0, None, [1, 0])
    assert scene == SCENE and sorted(files) == [0, 1] and files[1].name.endswith("_0_1_template-tro_state.json")
    with pytest.raises(ConfigError, match=r"available: \[0, 1, 2\]"):
        tasks.resolve_instances(str(tmp_path), ACTIVITY, 0, None, [7])
    with pytest.raises(ConfigError, match="download_2025_challenge_task_instances"):
        tasks.resolve_instances(str(tmp_path), "make_pizza", 0, None, [0])
    write_instances(tmp_path, scene="Rs_int")
    with pytest.raises(ConfigError, match="several scenes"):
        tasks.resolve_instances(str(tmp_path), ACTIVITY, 0, None, [0])
    assert tasks.resolve_instances(str(tmp_path), ACTIVITY, 0, "Rs_int", [0])[0] == "Rs_int"


@pytest.mark.parametrize(
    ("line", "allow", "expect"),
    [
        ("NVIDIA L40S, 570.86.15", False, None),
        ("NVIDIA GeForce RTX 4090, 535.54.03", False, "older than the 535.129"),
        ("NVIDIA H100 80GB HBM3, 570.86.15", False, "no RT cores"),
        ("NVIDIA H100 80GB HBM3, 570.86.15", True, None),
        ("NVIDIA H100 80GB HBM3, 550.54.15", True, "older than the 570.0"),
    ],
)
def test_gpu_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, allow: bool, expect: str | None):
    fake_nvidia_smi(tmp_path, line)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    problems = preflight.gpu_problems(None, allow)
    if expect is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expect in problems[0]


def test_missing_requirements_fail_before_spawning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from vlarl_behavior import pool
    from vlarl_behavior.env import make_env

    monkeypatch.delenv("ISAAC_PATH", raising=False)
    monkeypatch.setenv("OMNIGIBSON_DATA_PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(pool.WorkerPool, "start", lambda *a, **k: pytest.fail("spawned despite missing requirements"))
    with pytest.raises(PluginError) as err:
        make_env(BehaviorEnvConfig())
    text = str(err.value)
    assert "ISAAC_PATH" in text and "OMNIGIBSON_DATA_PATH" in text and "does not exist" in text


def test_data_without_instances_fails_before_spawning(fake_install: Path, monkeypatch: pytest.MonkeyPatch):
    from vlarl_behavior import pool
    from vlarl_behavior.env import make_env

    monkeypatch.setattr(pool.WorkerPool, "start", lambda *a, **k: pytest.fail("spawned despite missing instances"))
    with pytest.raises(ConfigError, match="No cached task instances of 'make_pizza'"):
        make_env(BehaviorEnvConfig(activity_name="make_pizza"))
    with pytest.raises(ConfigError, match="Unknown BEHAVIOR activity"):
        make_env(BehaviorEnvConfig(activity_name="make_pizzza"))
    with pytest.raises(ConfigError, match="Did you mean eef_left_pos"):
        make_env(BehaviorEnvConfig(proprio_obs=["eef_left_poss"]))
    with pytest.raises(ConfigError, match="multiple of"):
        make_env(BehaviorEnvConfig(physics_frequency=100.0, rendering_frequency=30.0))


def test_omni_config_carries_task_frequencies_and_overrides():
    cfg = omni_config.build(
        activity=ACTIVITY, definition_id=0, instance_id=3, scene_model=SCENE, proprio_obs=["trunk_qpos"],
        max_steps=11, physics_frequency=240.0, action_frequency=30.0, rendering_frequency=30.0,
        overrides={"env": {"device": "cuda"}, "robots": [{"grasping_mode": "physical"}]},
    )  # fmt: skip
    assert cfg["env"]["physics_frequency"] == 240.0 and cfg["env"]["device"] == "cuda"
    assert cfg["task"]["activity_name"] == ACTIVITY and cfg["task"]["activity_instance_id"] == 3
    assert cfg["task"]["termination_config"]["max_steps"] == 11 and cfg["scene"]["scene_model"] == SCENE
    r = cfg["robots"][0]
    assert r["type"] == "R1Pro" and r["grasping_mode"] == "physical" and r["proprio_obs"] == ["trunk_qpos"]
    assert list(r["controller_config"]) == ["base", "trunk", "arm_left", "arm_right", "gripper_left", "gripper_right"]


def _raw(flat: bool, h: int = 48) -> dict:
    img = torch.zeros((h, h, 4), dtype=torch.uint8)
    img[: h // 2, :, 0] = 200  # top half red: checks nothing gets flipped
    cams = {k.split("::")[1]: {"rgb": img.clone()} for k in robot.CAMERAS.values()}
    cams[robot.CAMERAS["right_wrist"].split("::")[1]]["rgb"][..., 1] = 77
    nested = {robot.ROBOT_NAME: {**cams, "proprio": torch.arange(5, dtype=torch.float32)}}
    return obs.flatten(nested) if flat else nested


@pytest.mark.parametrize("flat", [False, True])
def test_extract_images_wrists_and_state(flat: bool):
    out = obs.extract(_raw(flat), size=24, state_dim=5)
    assert out["images"].shape == (3, 24, 24) and out["images"].dtype == np.uint8
    assert out["wrist_images"].shape == (2, 3, 24, 24)
    assert out["images"][0, 0, 0] == 200 and out["images"][0, -1, 0] == 0  # upright
    assert out["wrist_images"][1, 1].max() == 77 and out["wrist_images"][0, 1].max() == 0  # left, then right
    np.testing.assert_array_equal(out["states"], np.arange(5, dtype=np.float32))
    with pytest.raises(ContractError, match="proprioception has 5 dims"):
        obs.extract(_raw(flat), size=24, state_dim=6)


def test_extract_names_a_missing_camera():
    raw = _raw(False)
    del raw[robot.ROBOT_NAME][robot.CAMERAS["head"].split("::")[1]]
    with pytest.raises(ContractError, match="zed_link"):
        obs.extract(raw, size=8, state_dim=5)


def test_fake_scene_update_initial_file_takes_a_saved_scene_like_upstream(fake_install: Path):
    # upstream Scene.update_initial_file(scene_file=None): None snapshots the scene, else a save() dict is the new start
    from omnigibson.envs import objects

    scene = objects.Scene("s")
    scene.update_initial_file()
    assert scene._initial == {"physics_steps": 0, "objects": {}}
    scene.update_initial_file(scene_file={"state": {"physics_steps": 7, "objects": {}}})
    assert scene._initial == {"physics_steps": 7, "objects": {}}
