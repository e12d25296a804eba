"""The chunk logic against the fake batched env, in-process (no worker): IsaacLab's in-step resets
mapped onto the chunk-boundary autoreset contract."""

from __future__ import annotations

import math

import pytest
import torch

from vlarl_isaaclab.mapping import axis_angle, axis_angle_from_wxyz, map_observation
from vlarl_isaaclab.register import STACK_DESCRIPTION
from vlarl_isaaclab.taskdecl import TaskDecl

DECL = TaskDecl(
    id="Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0", module="isaaclab_tasks", description=STACK_DESCRIPTION
)


COSMOS_3 = "IsaacContrib-Stack-Cube-Franka-IK-Rel-Visuomotor-Cosmos"


def _runner_factory(gym_id: str, generation: int):
    """Build a ChunkRunner the way the worker does (after launch), on the fake of the given release line."""
    from isaaclab.app import AppLauncher

    AppLauncher(headless=True, enable_cameras=True)
    import gymnasium as gym
    import isaaclab_tasks  # noqa: F401
    from isaaclab_tasks.utils import parse_env_cfg

    from vlarl_isaaclab.runner import ChunkRunner, FinalObsStore, install_final_obs_recorder, use_final_obs_extras

    def make(num_envs: int = 4, max_steps: int = 50):
        cfg = parse_env_cfg(gym_id, device="cpu", num_envs=num_envs)
        cfg.scene.table_cam.height = cfg.scene.table_cam.width = 16
        cfg.scene.wrist_cam.height = cfg.scene.wrist_cam.width = 8
        cfg.episode_length_s = 1e7
        store = FinalObsStore()
        from_extras = use_final_obs_extras(cfg, generation)
        if not from_extras:
            install_final_obs_recorder(cfg, "policy", store)
        env = gym.make(gym_id, cfg=cfg).unwrapped
        calls: list[torch.Tensor] = []
        step = env.step
        env.step = lambda a: (calls.append(a.clone()), step(a))[1]
        order = "xyzw" if generation >= 3 else "wxyz"
        return ChunkRunner(env, DECL, STACK_DESCRIPTION, max_steps, store, order, from_extras), env, calls

    return make


@pytest.fixture
def runner_env(fake_isaaclab):
    return _runner_factory(DECL.id, 2)


@pytest.fixture
def runner_env_3(fake_isaaclab_3):
    return _runner_factory(COSMOS_3, 3)


def test_axis_angle_from_wxyz_known_rotations() -> None:
    half = math.sqrt(0.5)
    q = torch.tensor([[half, 0.0, 0.0, half], [1.0, 0.0, 0.0, 0.0], [-half, 0.0, 0.0, -half], [0.0, 1.0, 0.0, 0.0]])
    aa = axis_angle_from_wxyz(q)
    expected = torch.tensor([[0, 0, math.pi / 2], [0, 0, 0], [0, 0, math.pi / 2], [math.pi, 0, 0]])
    assert torch.allclose(aa, expected, atol=1e-5)
    # xyzw order (a common mistake) would read w as z: the first row must not come out as a rotation about x
    assert not torch.allclose(axis_angle_from_wxyz(q[:, [1, 2, 3, 0]])[0], expected[0], atol=1e-3)


def test_axis_angle_reads_the_installed_quaternion_order() -> None:
    half = math.sqrt(0.5)
    wxyz = torch.tensor([[half, 0.0, 0.0, half], [half, half, 0.0, 0.0]])
    xyzw = wxyz[:, [1, 2, 3, 0]]
    assert torch.allclose(axis_angle(xyzw, "xyzw"), axis_angle_from_wxyz(wxyz), atol=1e-6)
    group = {"eef_pos": torch.zeros(2, 3), "eef_quat": xyzw, "gripper_pos": torch.zeros(2, 2)}
    decl = TaskDecl(id="T", image_term=None, wrist_image_term=None)  # default eef_quat transform: "axis_angle"
    states = map_observation({"policy": group}, decl, "d", quat_order="xyzw")["states"]
    assert torch.allclose(states[:, 3:6], torch.tensor([[0, 0, math.pi / 2], [math.pi / 2, 0, 0]]), atol=1e-5)
    forced = TaskDecl(id="T", image_term=None, wrist_image_term=None, state_terms=(("eef_quat", "axis_angle_wxyz"),))
    assert torch.allclose(map_observation({"policy": group}, forced, "d", quat_order="xyzw")["states"],
                          axis_angle_from_wxyz(xyzw), atol=1e-6)  # fmt: skip


def test_observation_mapping_shapes_and_states() -> None:
    n = 3
    group = {
        "table_cam": torch.randint(0, 255, (n, 6, 5, 3), dtype=torch.uint8),
        "wrist_cam": torch.rand(n, 4, 4, 3),
        "eef_pos": torch.randn(n, 3),
        "eef_quat": torch.tensor([[1.0, 0, 0, 0]] * n),
        "gripper_pos": torch.full((n, 2), 0.04),
    }
    obs = map_observation({"policy": group}, DECL, "d")
    assert obs["images"].shape == (n, 3, 6, 5) and obs["images"].dtype == torch.uint8
    assert torch.equal(obs["images"][:, 0], group["table_cam"][..., 0])
    assert obs["wrist_images"].dtype == torch.uint8 and int(obs["wrist_images"].max()) > 1
    assert obs["states"].shape == (n, 8)
    assert torch.allclose(obs["states"][:, :3], group["eef_pos"]) and torch.allclose(
        obs["states"][:, 3:6], torch.zeros(n, 3)
    )
    assert obs["task_descriptions"] == ["d"] * n
    with pytest.raises(Exception, match="eef_pos"):
        map_observation({"policy": {k: v for k, v in group.items() if k != "eef_pos"}}, DECL, "d")


def test_success_mid_chunk_masks_rest_holds_actions_and_keeps_final_obs(runner_env) -> None:
    runner, env, calls = runner_env()
    runner.reset(seed=3, group_size=None)
    env.goal[0] = env.eef_pos[0]  # sub-env 0 succeeds at its first sub-step
    at_goal = env.eef_pos[0].clone()
    actions = torch.zeros(4, 4, 7)
    actions[..., 6] = 1.0  # gripper open
    actions[1:, :, 2] = 0.01  # the others drift slowly upward
    out = runner.chunk(actions)
    assert out["valid"][0].tolist() == [True, False, False, False]
    assert out["valid"][1:].all()
    assert out["rewards"][0].tolist() == [1.0, 0.0, 0.0, 0.0] and out["terminations"][0, 0]
    assert out["infos"]["done"].tolist() == [True, False, False, False]
    ep = out["infos"]["episode"]
    assert bool(ep["success_once"][0]) and int(ep["episode_len"][0]) == 1 and float(ep["return"][0]) == 1.0
    # the final observation is the pre-reset one (at the goal), not IsaacLab's post-reset observation
    assert torch.allclose(out["infos"]["final_observation"]["states"][0, :3], at_goal)
    # sub-steps 1..3 sent the hold action (zeros) to sub-env 0, whatever the policy asked
    assert all(torch.equal(c[0], torch.zeros(7)) for c in calls[1:]) and len(calls) == 4
    # reset at the chunk boundary: a fresh episode whose state is not the goal one
    assert not torch.allclose(out["observations"]["states"][0, :3], at_goal)
    assert torch.allclose(out["observations"]["states"][1:], out["infos"]["final_observation"]["states"][1:])
    assert int(runner.ep_len[0]) == 0 and int(runner.ep_len[1]) == 4


def test_truncation_by_max_episode_steps_resets_at_boundary(runner_env) -> None:
    runner, _env, calls = runner_env(num_envs=2, max_steps=3)
    runner.reset(seed=0, group_size=None)
    actions = torch.zeros(2, 2, 7)
    actions[..., 6] = -1.0  # closed gripper: the success term cannot fire
    first = runner.chunk(actions)
    assert first["valid"].all() and not first["infos"]["done"].any()
    second = runner.chunk(actions)
    assert second["valid"].tolist() == [[True, False], [True, False]]
    assert second["truncations"][:, 0].all() and not second["terminations"].any()
    assert second["infos"]["episode"]["episode_len"].tolist() == [3, 3]
    assert len(calls) == 3  # every sub-env done after the first sub-step: nothing more simulated
    assert runner.ep_len.tolist() == [0, 0]


def _check_group_reset(runner, env) -> None:
    obs = runner.reset(seed=5, group_size=2)
    assert torch.equal(obs["states"][0], obs["states"][1]) and torch.equal(obs["images"][2], obs["images"][3])
    assert not torch.equal(obs["states"][0], obs["states"][2])
    # the members' physical state is the leader's, each in its own env frame
    assert torch.allclose(env.goal[1], env.goal[0]) and torch.allclose(env.goal[3], env.goal[2])
    with pytest.raises(Exception, match="group_size"):
        runner.reset(seed=5, group_size=3)


def test_group_reset_shares_initial_state(runner_env) -> None:
    # IsaacLab's reset_to writes state rows to env_ids one to one: the leaders' rows must be cut out first
    runner, env, _ = runner_env(num_envs=4)
    _check_group_reset(runner, env)


def test_group_reset_on_isaaclab_3(runner_env_3) -> None:
    runner, env, _ = runner_env_3(num_envs=4)
    _check_group_reset(runner, env)


def test_isaaclab_3_final_observation_from_extras_and_xyzw_states(runner_env_3) -> None:
    runner, env, _ = runner_env_3()
    assert env.recorder_manager.active_terms == []  # 3.x: compute_final_obs, no recorder term
    obs = runner.reset(seed=3, group_size=None)
    # states[3:6] is the axis-angle of small rotations: reading xyzw as wxyz would give angles near pi
    assert float(obs["states"][:, 3:6].norm(dim=1).max()) < 0.5
    env.goal[0] = env.eef_pos[0]
    at_goal = env.eef_pos[0].clone()
    actions = torch.zeros(4, 3, 7)
    actions[..., 6] = 1.0
    out = runner.chunk(actions)
    assert out["valid"][0].tolist() == [True, False, False] and out["infos"]["done"][0]
    assert torch.allclose(out["infos"]["final_observation"]["states"][0, :3], at_goal)
    assert not torch.allclose(out["observations"]["states"][0, :3], at_goal)


def test_gripper_state_is_j1_minus_j2_like_the_stack_task(runner_env) -> None:
    runner, _, _ = runner_env(num_envs=2)
    states = runner.reset(seed=0, group_size=None)["states"]
    assert torch.all(states[:, 6] > 0) and torch.equal(states[:, 7], -states[:, 6])  # open: (+0.04, -0.04)


@pytest.mark.parametrize(("gym_id", "fixture"), [(DECL.id, "fake_isaaclab"), (COSMOS_3, "fake_isaaclab_3")])
def test_stack_cameras_are_200_by_200(gym_id: str, fixture: str, request) -> None:
    request.getfixturevalue(fixture)
    _runner_factory(gym_id, 2)  # launches the fake app and imports isaaclab_tasks
    from isaaclab_tasks.utils import parse_env_cfg

    cfg = parse_env_cfg(gym_id, device="cpu", num_envs=1)
    assert (cfg.scene.table_cam.height, cfg.scene.table_cam.width) == (200, 200)
    assert (cfg.scene.wrist_cam.height, cfg.scene.wrist_cam.width) == (200, 200)
