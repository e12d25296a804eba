"""The worker in-process against the fake OmniGibson, in both multi-env APIs (current main and 3.7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vlarl.errors import ContractError
from vlarl_behavior import omni_config, robot, tasks
from vlarl_behavior.worker import MACROS, Worker, WorkerSpec, set_macros, to_torch

from .conftest import ACTIVITY, ROBOT_POSE

ACTION_DT = 1 / 30  # the fake config's action frequency
ROBOT_POS = slice(26, 29)  # the fake writes the robot's scene-frame position there


def _spec(data: Path, num_envs: int = 2, **kw) -> WorkerSpec:
    scene, files = tasks.resolve_instances(str(data), ACTIVITY, 0, None, [0, 1, 2])
    cfg = omni_config.build(
        activity=ACTIVITY, definition_id=0, instance_id=0, scene_model=scene, proprio_obs=robot.DEFAULT_PROPRIO_OBS,
        max_steps=100, physics_frequency=120.0, action_frequency=30.0, rendering_frequency=30.0,
    )  # fmt: skip
    base = dict(
        num_envs=num_envs, omni_config=cfg, instance_files={i: str(p) for i, p in files.items()}, image_size=16,
        head_resolution=32, wrist_resolution=24, state_dim=256, settle_steps=3, gpu_id=None,
    )  # fmt: skip
    return WorkerSpec(**{**base, **kw})


@pytest.fixture(params=["main", "3.7"])
def api(request, fake_install: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAKE_OG_API", request.param)
    return request.param


def _act(n: int, base_x: float = 0.0, grip: float = 0.0) -> np.ndarray:
    a = np.zeros((n, 23), dtype=np.float32)
    a[:, 0], a[:, 22] = base_x, grip
    return a


def test_worker_runs_on_both_apis_and_places_robots_in_their_own_scene(api: str, fake_install: Path):
    w = Worker(_spec(fake_install / "datasets"))
    assert w.info()["api"] == api
    obs = w.reset([0, 1], [0, 1])
    assert obs["images"].shape == (2, 3, 16, 16) and obs["wrist_images"].shape == (2, 2, 3, 16, 16)
    np.testing.assert_array_equal(obs["states"][:, 2], [1.0, 2.0])  # instance markers
    # instance poses are scene-relative: env 1's robot must stand in env 1's scene, not in env 0's
    np.testing.assert_allclose(obs["states"][:, ROBOT_POS], [ROBOT_POSE, ROBOT_POSE], atol=1e-6)
    out = w.step([0, 1], _act(2, grip=1.0))
    assert out["states"].shape == (2, 256) and out["success"].tolist() == [False, False]
    w.close()


def test_resetting_one_env_does_not_move_the_others(api: str, fake_install: Path):
    w = Worker(_spec(fake_install / "datasets"))
    w.reset([0, 1], [0, 0])
    for _ in range(3):
        before = w.step([0, 1], _act(2, base_x=0.6))["states"][1, ROBOT_POS].copy()
    # env 0 gets a new instance (loading, settling, scene and env reset: physics steps for every scene)
    w.reset([0], [1])
    after = w.step([0, 1], _act(2, base_x=0.6))["states"][1, ROBOT_POS]
    np.testing.assert_allclose(after - before, [0.6 * ACTION_DT, 0, 0], atol=1e-5)  # exactly one step's motion


def test_without_isolation_the_reset_moves_the_others(fake_install: Path):
    w = Worker(_spec(fake_install / "datasets", isolate_resets=False))
    w.reset([0, 1], [0, 0])
    before = w.step([0, 1], _act(2, base_x=0.6))["states"][1, ROBOT_POS].copy()
    w.reset([0], [1])
    after = w.step([0, 1], _act(2, base_x=0.6))["states"][1, ROBOT_POS]
    assert after[0] - before[0] > 2 * 0.6 * ACTION_DT  # moved during env 0's reset, unrecorded


def test_instance_json_becomes_tensors_like_upstream():
    state = to_torch({"a": {"joint_pos": [[0.1, 0.2], [0.3, 0.4]], "goal": [1]}, "poses": [{"position": [1, 2]}]})
    assert isinstance(state["a"]["joint_pos"], torch.Tensor) and state["a"]["joint_pos"].shape == (2, 2)
    assert state["a"]["joint_pos"].dtype == torch.float32 and state["a"]["goal"].dtype == torch.float32
    assert state["poses"] == [{"position": [1, 2]}]  # a list of dicts stays as it is (upstream leaves it)


def test_macros_already_read_equal_are_fine_different_are_named(fake_install: Path):
    from omnigibson.macros import gm

    assert gm.USE_NUMPY_CONTROLLER_BACKEND is True  # read (equal to what vlarl sets): no error
    w = Worker(_spec(fake_install / "datasets"))
    assert {k: dict.get(gm, k) for k in MACROS} == MACROS
    w.close()
    with pytest.raises(ContractError, match=r"gm\.ENABLE_OBJECT_STATES=True \(vlarl needs False\)"):
        set_macros(gm, {"ENABLE_OBJECT_STATES": False})  # read by BehaviorTask, different value
