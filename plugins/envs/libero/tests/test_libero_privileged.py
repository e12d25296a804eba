"""Real-simulator tests of camera selection, privileged state, the scripted expert and demo collection.

Small settings: libero_spatial task 0, 2 sub-envs, no cameras unless a test is about them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vlarl_libero.env import LiberoEnv
from vlarl_libero.expert import ScriptedExpert
from vlarl_libero.layout import ROBOT_STATE_NAMES
from vlarl_libero.register import LiberoConfig
from vlarl_libero.shaping import ShapingParams

pytestmark = pytest.mark.slow
OBJECTS = ("akita_black_bowl_1", "akita_black_bowl_2", "cookies_1", "glazed_rim_porcelain_ramekin_1", "plate_1")


class Shared:
    """The conformance kit closes the envs it makes; keep the module's env (a restart costs seconds)."""

    def __init__(self, inner: LiberoEnv) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def env() -> Iterator[LiberoEnv]:
    """States only (no renderer), privileged, recording sim states: what the expert and the collector use."""
    cfg = LiberoConfig(task_ids=[0], num_envs=2, cameras=[], privileged_state=True, record_sim_states=True)
    e = LiberoEnv(cfg)
    try:
        yield e
    finally:
        e.close()


def column(env: LiberoEnv, obs: dict[str, Any], name: str) -> np.ndarray:
    return obs["states"][:, env.observation_spec.state_names.index(name)]


def test_privileged_spec_names_every_dim_and_no_images(env: LiberoEnv) -> None:
    spec = env.observation_spec
    assert spec.images is None and spec.wrist_images is None
    assert env.state_objects == OBJECTS  # sorted
    names = spec.state_names
    assert names[:8] == ROBOT_STATE_NAMES and spec.states == (8 + 7 * len(OBJECTS),) == (len(names),)
    assert names[8:15] == tuple(
        f"akita_black_bowl_1.{f}" for f in ("pos.x", "pos.y", "pos.z", "quat.x", "quat.y", "quat.z", "quat.w")
    )
    assert env.task_goals == {0: [("on", "akita_black_bowl_1", "plate_1")]}
    assert env.task_id_by_description == {env.task_descriptions[0]: 0}
    assert spec.tasks == (env.task_descriptions[0],)


def test_object_poses_are_read_after_settling(env: LiberoEnv) -> None:
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"states", "task_descriptions"} and env.render_frames() is None
    # Bowls rest on the table (z 0.898 settled; 0.97 in the init state before settling), upright quaternions.
    np.testing.assert_allclose(column(env, obs, "akita_black_bowl_1.pos.z"), 0.898, atol=3e-3)
    quat = obs["states"][:, 11:15]
    np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-5)
    records = env.sim_records()  # the float64 readings behind the same observation
    np.testing.assert_allclose(records[0]["object"], obs["states"][0, 8:], atol=1e-6)
    assert records[0]["sim_state"].dtype == np.float64 and records[0]["joint_pos"].shape == (7,)


def test_expert_solves_task_0_init_states(env: LiberoEnv) -> None:
    expert = ScriptedExpert.for_env(env)
    obs, _ = env.reset(seed=0)  # init states 0 and 1
    solved, lengths = [False, False], [0, 0]
    for _ in range(env.max_episode_steps):
        out = env.chunk_step(expert.act(obs)[:, None, :])
        for i in np.flatnonzero(out.infos["done"]):
            if not lengths[i]:
                solved[i] = bool(out.infos["episode"]["success_once"][i])
                lengths[i] = int(out.infos["episode"]["episode_len"][i])
            expert.reset([i])
        obs = out.observations
        if all(lengths):
            break
    assert solved == [True, True], lengths
    assert max(lengths) < 150, lengths  # measured about 75-95 steps


def test_collect_writes_libero_hdf5(env: LiberoEnv, tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    from vlarl_libero.collector import collect_task

    result = collect_task(env, 2, tmp_path)
    assert result.demos == 2 and result.path.name == f"{env.tasks[0].name}_demo.hdf5"
    with h5py.File(result.path, "r") as f:
        data = f["data"]
        assert data.attrs["num_demos"] == 2 and sorted(data) == ["demo_0", "demo_1"]
        assert json.loads(data.attrs["problem_info"])["problem_name"] == "libero_tabletop_manipulation"
        assert data.attrs["env_name"] == "Libero_Tabletop_Manipulation"
        assert data.attrs["macros_image_convention"] == "opengl"
        assert json.loads(data.attrs["env_args"])["env_kwargs"]["camera_names"] == []
        assert "(:goal" in data.attrs["bddl_file_content"]
        demo = data["demo_0"]
        t = int(demo.attrs["num_samples"])
        assert data.attrs["total"] == t + int(data["demo_1"].attrs["num_samples"])
        assert demo["actions"].shape == (t, 7) and demo["states"].shape[0] == t
        assert sorted(demo["obs"]) == ["ee_ori", "ee_pos", "ee_states", "gripper_states", "joint_states", "object"]
        assert demo["obs/ee_states"].shape == (t, 6) and demo["obs/joint_states"].shape == (t, 7)
        assert demo["obs/object"].shape == (t, 35)
        assert list(demo["obs/object"].attrs["names"]) == list(env.observation_spec.state_names[8:])
        assert demo["robot_states"].shape == (t, 9)
        for key in ("rewards", "dones"):
            assert demo[key].dtype == np.uint8 and demo[key][-1] == 1 and demo[key][:-1].sum() == 0
        np.testing.assert_array_equal(demo.attrs["init_state"], demo["states"][0])
        assert "<mujoco" in demo.attrs["model_file"]
        assert [int(data[d].attrs["init_state_id"]) for d in ("demo_0", "demo_1")] == result.init_state_ids
        gripper = demo["obs/gripper_states"][()]
        assert gripper[0, 0] > 0.035 and gripper[-1, 0] < gripper[0, 0]  # open at the start, closed on the bowl
        np.testing.assert_allclose(demo["robot_states"][:, 2:5], demo["obs/ee_pos"][()])
        first_object = demo["obs/object"][0]
        state_id = int(demo.attrs["init_state_id"])
    # obs[0] is the observation before actions[0]: the settled reset observation of that init state.
    obs, _ = env.reset(seed=state_id)
    np.testing.assert_allclose(obs["states"][0, 8:], first_object, atol=1e-6)


def test_conformance_kit_states_only_privileged(vlarl_check_env: Any) -> None:
    cfg = LiberoConfig(task_ids=[0], num_envs=2, cameras=[], privileged_state=True, max_episode_steps=8)
    e = LiberoEnv(cfg)
    try:
        # chunk_len 2: the determinism check's 2 chunks end before the step limit (an autoreset would take
        # the next state of the env's shuffled order, which a second reset(seed) does not rewind).
        vlarl_check_env(lambda: Shared(e), chunk_len=2, name="libero cameras=[] privileged")
    finally:
        e.close()


def test_agentview_only_conformance_and_video() -> None:
    from vlarl.testing import check_env

    cfg = LiberoConfig(task_ids=[0], num_envs=2, cameras=["agentview"], num_settle_steps=2, max_episode_steps=5)
    e = LiberoEnv(cfg)
    try:
        spec = e.observation_spec
        assert spec.images == (3, 128, 128) and spec.wrist_images is None and spec.states == (8,)
        assert spec.state_names == ROBOT_STATE_NAMES
        obs, _ = e.reset(seed=0)
        assert "wrist_images" not in obs and obs["images"].std() > 10
        assert e.render_frames().shape == (2, 128, 128, 3)
        # Determinism with images is checked with both cameras in test_libero_sim.py (pixel checksums).
        check = check_env(lambda: Shared(e), chunk_len=2, determinism=False, name="libero cameras=[agentview]")
        check.raise_if_failed()
    finally:
        e.close()


def test_union_layout_gives_zeros_for_an_object_a_task_lacks() -> None:
    # libero_object tasks 0 and 1 differ in one object each (salad dressing / orange juice).
    cfg = LiberoConfig(suite="libero_object", task_ids=[0, 1], num_envs=2, cameras=[], privileged_state=True)
    e = LiberoEnv(cfg)
    try:
        assert list(e.state_objects) == sorted(set(e.tasks[0].objects) | set(e.tasks[1].objects))
        obs, _ = e.reset(seed=0)  # sub-env 0 on task 0, sub-env 1 on task 1
        assert [e.pair_of(i)[0] for i in range(2)] == [0, 1]
        for row, task in enumerate((0, 1)):
            for k, name in enumerate(e.state_objects):
                pose = obs["states"][row, 8 + 7 * k : 15 + 7 * k]
                present = name in e.tasks[task].objects
                assert (np.linalg.norm(pose[3:]) > 0.99) if present else not pose.any(), (task, name, pose)
    finally:
        e.close()


def test_dart_collection_executes_noisy_actions_and_records_the_experts(env: LiberoEnv, tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    from vlarl_libero.collector import collect_task

    executed: list[np.ndarray] = []
    real_step = env.chunk_step

    def spy(actions: np.ndarray) -> Any:
        executed.append(np.array(actions[:, 0, :]))
        return real_step(actions)

    noise = [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.0]
    env.chunk_step = spy  # type: ignore[method-assign]
    try:
        result = collect_task(env, 1, tmp_path, action_noise=noise)
    finally:
        del env.chunk_step
    assert result.demos == 1
    slot = None
    with h5py.File(result.path, "r") as f:
        recorded = f["data/demo_0/actions"][()]
    steps = np.stack(executed)  # [T, n, 7]: the demo is one sub-env's first len(recorded) steps
    for i in range(steps.shape[1]):
        if steps.shape[0] >= len(recorded) and np.all(steps[: len(recorded), i, 6] == recorded[:, 6]):
            slot = i
    assert slot is not None, "no sub-env executed the recorded gripper commands"
    diff = steps[: len(recorded), slot, :] - recorded
    free = np.abs(steps[: len(recorded), slot, :]) < 1.0  # clipping at the action bounds hides the noise
    np.testing.assert_array_equal(diff[:, 6], 0.0)  # no noise on the gripper
    assert diff[:, :3][free[:, :3]].std() == pytest.approx(0.2, rel=0.25)
    assert diff[:, 3:6][free[:, 3:6]].std() == pytest.approx(0.1, rel=0.25)


@pytest.mark.parametrize("reach", ["origin", "grasp"])
def test_shaped_reward_pays_progress_and_sums_to_success_plus_the_potential_gained(reach: str) -> None:
    cfg = LiberoConfig(
        task_ids=[0], num_envs=1, cameras=[], privileged_state=True, reward_type="shaped", shaping_reach=reach
    )
    env = LiberoEnv(cfg)
    try:
        expert = ScriptedExpert.for_env(env)
        obs, _ = env.reset(seed=0)
        bowl = env.observation_spec.state_names.index("akita_black_bowl_1.pos.z")
        start_z, rewards, lifted_at = obs["states"][0, bowl], [], None
        for t in range(env.max_episode_steps):
            out = env.chunk_step(expert.act(obs)[:, None, :])
            rewards.append(float(out.rewards[0, 0]))
            obs = out.observations
            if lifted_at is None and obs["states"][0, bowl] >= start_z + ShapingParams().lift_min:
                lifted_at = t
            if out.infos["done"][0]:
                break
        assert out.infos["episode"]["success_once"][0] and lifted_at is not None
        before_lift, total = sum(rewards[:lifted_at]), sum(rewards)
        # Reaching pays at most reach_weight; holding the bowl up pays at least held_base more.
        assert 0 < before_lift <= 0.1 + 1e-6 and sum(rewards[: lifted_at + 1]) >= 0.5
        # The expert closes on the rim, 5.7 cm from the bowl's origin: only the grasp-aimed reach pays it in full.
        if reach == "grasp":
            assert before_lift >= 0.08
        else:
            assert before_lift < 0.07
        # LIBERO's success reward (1) plus phi(solved) - phi(start) = 1 - (about 0: the hand starts far away).
        assert total == pytest.approx(2.0, abs=0.01)
    finally:
        env.close()
