"""The env end to end against the fake OmniGibson, with real spawned worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vlarl.errors import ContractError, PluginError
from vlarl_behavior.register import BehaviorEnvConfig

from .conftest import GOALS

pytestmark = pytest.mark.slow  # each env spawns workers that import torch


def _make(**kw):
    from vlarl_behavior.env import make_env

    base = dict(
        num_envs=3, envs_per_worker=2, instance_ids=[0, 1], settle_steps=2, startup_retry_delay=0.1,
        image_size=32, head_resolution=64, wrist_resolution=48,
    )  # fmt: skip
    return make_env(BehaviorEnvConfig(**{**base, **kw}))


@pytest.fixture(scope="module")
def env(shared_install: Path):
    e = _make(max_episode_steps=6, physics_frequency=240.0, action_frequency=30.0, rendering_frequency=30.0)
    yield e
    e.close()


def _actions(n: int, c: int, grip: float = 0.0) -> np.ndarray:
    a = np.zeros((n, c, 23), dtype=np.float32)
    a[..., 22] = grip
    return a


def test_workers_hold_several_envs_at_the_configured_physics_rate(env):
    infos = env.worker_infos
    assert [i["num_envs"] for i in infos] == [2, 1]
    assert len({i["pid"] for i in infos}) == 2
    assert all(i["physics_dt"] == pytest.approx(1 / 240) for i in infos)


def test_reset_layout_and_description(env):
    obs, _ = env.reset(seed=0)
    assert obs["images"].shape == (3, 3, 32, 32) and obs["images"].dtype == np.uint8
    assert obs["wrist_images"].shape == (3, 2, 3, 32, 32) and obs["wrist_images"].dtype == np.uint8
    assert obs["states"].shape == (3, 256) and obs["states"].dtype == np.float32
    assert obs["task_descriptions"] == ["Switch on the radio sitting on the living-room table."] * 3
    assert env.observation_spec.wrist_images == (2, 3, 32, 32)
    # seed 0 -> instances 0, 1, 0 (seed + i): the fake writes the instance marker into proprio[2]
    np.testing.assert_array_equal(obs["states"][:, 2], [1.0, 2.0, 1.0])


def test_same_seed_same_start_and_groups_share_it(env):
    a, _ = env.reset(seed=5)
    b, _ = env.reset(seed=5)
    for k in ("images", "wrist_images", "states"):
        np.testing.assert_array_equal(a[k], b[k])
    env2_obs, _ = env.reset(seed=1, options={"group_size": 3})
    assert len({tuple(s) for s in env2_obs["states"]}) == 1


def test_sparse_success_reward_termination_and_autoreset(env):
    env.reset(seed=0)  # goals: env0 -> 2.0, env1 -> 4.0, env2 -> 2.0
    step = env.chunk_step(_actions(3, 5, grip=1.0))
    assert step.rewards.tolist() == [[0, 1, 0, 0, 0], [0, 0, 0, 1, 0], [0, 1, 0, 0, 0]]
    assert step.terminations[:, 1].tolist() == [True, False, True] and step.terminations[1, 3]
    assert step.valid.sum(axis=1).tolist() == [2, 4, 2]
    assert step.infos["done"].all()
    ep = step.infos["episode"]
    assert ep["success_once"].all() and ep["episode_len"].tolist() == [2, 4, 2]
    assert ep["return"].tolist() == [1.0, 1.0, 1.0]
    # autoreset: the returned observation is a fresh episode (step counter proprio[0] back to 0)
    assert step.observations["states"][:, 0].tolist() == [0.0, 0.0, 0.0]
    assert step.infos["final_observation"]["states"][:, 0].tolist() == [2.0, 4.0, 2.0]


def test_no_success_means_zero_reward_and_truncation(env):
    env.reset(seed=0)
    step = env.chunk_step(_actions(3, 7, grip=-1.0))
    assert step.rewards.sum() == 0 and not step.terminations.any()
    assert step.truncations[:, 5].all() and step.valid.sum(axis=1).tolist() == [6, 6, 6]
    assert not step.infos["episode"]["success_once"].any()
    assert step.infos["episode"]["episode_len"].tolist() == [6, 6, 6]


def test_actions_reach_the_robot_and_are_clipped(env):
    env.reset(seed=0)
    a = _actions(3, 1)
    a[:, 0, 3] = 0.5
    a[:, 0, 0] = 9.0  # base x beyond its 0.75 bound
    step = env.chunk_step(a)
    # the fake copies the robot's last applied action into proprio[3:26]
    np.testing.assert_allclose(step.observations["states"][:, 3], [0.75] * 3)
    np.testing.assert_allclose(step.observations["states"][:, 6], [0.5] * 3)


def test_wrong_action_width_is_named(env):
    env.reset(seed=0)
    with pytest.raises(ContractError, match="action_dim=23"):
        env.chunk_step(np.zeros((3, 2, 22), dtype=np.float32))
    with pytest.raises(ContractError, match="23 dims per step"):
        env.step_envs(np.arange(3), np.zeros((3, 7), dtype=np.float32))


def test_conformance_kit(shared_install: Path):
    from vlarl.testing import check_env

    report = check_env(lambda: _make(num_envs=2, envs_per_worker=2, max_episode_steps=8), chunk_len=3, max_chunks=8)
    report.raise_if_failed()


def test_closed_env_says_so(shared_install: Path):
    e = _make(num_envs=1, envs_per_worker=1)
    e.close()
    with pytest.raises(PluginError, match="closed"):
        e.reset(seed=0)


def test_startup_retries_then_gives_up(shared_install: Path, monkeypatch: pytest.MonkeyPatch):
    counter = shared_install / "fail_starts"
    monkeypatch.setenv("FAKE_OG_FAIL_STARTS", str(counter))
    counter.write_text("1")  # the first launch fails, the retry succeeds
    e = _make(num_envs=1, envs_per_worker=1, startup_retries=2)
    try:
        assert counter.read_text() == "0"
        obs, _ = e.reset(seed=0)
        assert obs["states"].shape == (1, 256)
    finally:
        e.close()
    counter.write_text("5")
    with pytest.raises(PluginError, match=r"(?s)after 2 attempt.*Failed to start the Kit app"):
        _make(num_envs=1, envs_per_worker=1, startup_retries=2)


def test_close_ends_the_workers(shared_install: Path):
    e = _make(num_envs=2, envs_per_worker=1, instance_ids=[2], ignore_terminations=True)
    try:
        e.reset(seed=0)
        step = e.chunk_step(_actions(2, 4, grip=1.0))
        # ignore_terminations: success is rewarded but the episode goes on
        assert not step.terminations.any() and step.valid.all()
        assert step.rewards[:, 2:].all() and GOALS[2] == 3.0
    finally:
        pids = e.pool.pids
        e.close()
    assert len(pids) == 2
    for pid in pids:  # ended and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
