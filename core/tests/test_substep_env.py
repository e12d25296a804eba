"""SubStepVectorEnv implements the chunk/autoreset rules once for every CPU env plugin."""

import numpy as np
import pytest
from toys import LineEnv

from vlarl.errors import ConfigError, ContractError


def test_episode_ending_mid_chunk_masks_the_rest_and_resets_at_boundary():
    env = LineEnv(num_envs=2, goal=1.5)
    env.reset(seed=0)
    env.pos[:] = [1.0, -3.0]  # sub-env 0 crosses the goal at the first sub-step
    actions = np.full((2, 4, 2), 1.0, dtype=np.float32)
    step = env.chunk_step(actions)
    assert step.valid.tolist() == [[True, False, False, False], [True, True, True, True]]
    assert step.terminations[0].tolist() == [True, False, False, False]
    assert step.rewards[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert step.infos["done"].tolist() == [True, False]
    assert step.infos["episode"]["episode_len"][0] == 1
    assert step.infos["episode"]["success_once"][0]
    # final observation is the pre-reset state; the returned obs is the new start
    assert step.infos["final_observation"]["states"][0, 0] == pytest.approx(2.0)
    assert -1 <= step.observations["states"][0, 0] <= 1
    # sub-env 1 kept stepping: 4 sub-steps of +1
    assert step.observations["states"][1, 0] == pytest.approx(1.0)
    assert env.steps_taken == 1 + 4


def test_truncation_at_max_episode_steps():
    env = LineEnv(num_envs=1, max_episode_steps=3, goal=100.0)
    env.reset(seed=0)
    step = env.chunk_step(np.zeros((1, 5, 2), np.float32))
    assert step.truncations[0].tolist() == [False, False, True, False, False]
    assert step.valid[0].tolist() == [True, True, True, False, False]
    assert not step.terminations.any()
    assert step.infos["episode"]["episode_len"][0] == 3


def test_group_reset_shares_initial_state_and_plain_reset_does_not():
    env = LineEnv(num_envs=6)
    obs, _ = env.reset(seed=3, options={"group_size": 3})
    s = obs["states"][:, 0]
    assert s[0] == s[1] == s[2] and s[3] == s[4] == s[5] and s[0] != s[3]
    obs, _ = env.reset(seed=3)
    assert len(set(obs["states"][:, 0].tolist())) == 6


def test_group_size_must_divide_num_envs():
    with pytest.raises(ConfigError, match="group_size=4 does not divide num_envs=6"):
        LineEnv(num_envs=6).reset(seed=0, options={"group_size": 4})


def test_wrong_action_shape_is_a_clear_error():
    env = LineEnv(num_envs=2)
    env.reset(seed=0)
    with pytest.raises(ContractError, match="action_dim=2"):
        env.chunk_step(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ContractError, match="before reset"):
        LineEnv().chunk_step(np.zeros((4, 1, 2), np.float32))


def test_gripper_conversion_flips_only_gripper_dims():
    env = LineEnv()
    a = np.array([[0.5, 1.0]], np.float32)
    assert env.action_spec.convert_gripper(a, "close_positive").tolist() == [[0.5, -1.0]]
    assert env.action_spec.convert_gripper(a, "open_positive").tolist() == [[0.5, 1.0]]


def test_idle_sub_envs_are_neither_stepped_nor_reset_until_the_next_reset():
    env = LineEnv(num_envs=3, max_episode_steps=10)
    env.reset(seed=0)
    start = env.pos.copy()
    env.set_idle(np.array([False, True, False]))
    out = env.chunk_step(np.full((3, 2, 2), 0.1, dtype=np.float32))
    assert env.steps_taken == 4  # 2 sub-envs x 2 sub-steps; the idle one costs nothing
    assert env.pos[1] == start[1] and out.observations["states"][1, 0] == start[1]
    assert not out.valid[1].any() and out.valid[[0, 2]].all()
    assert not out.infos["done"][1] and out.infos["episode"]["episode_len"][1] == 0
    env.reset(seed=0)  # a reset ends the hold
    env.chunk_step(np.full((3, 1, 2), 0.1, dtype=np.float32))
    assert env.steps_taken == 4 + 3
    with pytest.raises(ContractError, match=r"one flag per sub-env, shape \(3,\)"):
        env.set_idle(np.array([True]))
