"""Tests that step the real LIBERO simulator (2 sub-envs in 2 spawned workers, offscreen rendering).

One env is shared by the module (starting workers costs seconds); the crash test runs last.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from vlarl.contracts.env import GROUP_SIZE_OPTION
from vlarl.errors import ContractError
from vlarl_libero.env import LiberoEnv
from vlarl_libero.register import LiberoConfig

pytestmark = pytest.mark.slow
MAX_STEPS = 6
SHARED: dict[str, str] = {}
OPEN, CLOSE = -1.0, 1.0  # LIBERO's gripper sign


@pytest.fixture(scope="module")
def env() -> Iterator[LiberoEnv]:
    cfg = LiberoConfig(
        suite="libero_spatial", task_ids=[0], num_envs=2, num_settle_steps=3, max_episode_steps=MAX_STEPS
    )
    e = LiberoEnv(cfg)
    try:
        yield e
    finally:
        e.close()


def checksum(obs: dict[str, Any], row: int) -> str:
    h = hashlib.sha256()
    for key in ("images", "wrist_images", "states"):
        h.update(np.ascontiguousarray(obs[key][row]).tobytes())
    return h.hexdigest()


def chunk(n: int, c: int, **dims: float) -> np.ndarray:
    a = np.zeros((n, c, 7), dtype=np.float32)
    a[..., 6] = OPEN
    names = {"dx": 0, "dy": 1, "dz": 2, "gripper": 6}
    for name, value in dims.items():
        a[..., names[name]] = value
    return a


def test_reset_observations_follow_the_contract(env: LiberoEnv) -> None:
    obs, infos = env.reset(seed=0)
    assert obs["images"].shape == (2, 3, 128, 128) and obs["images"].dtype == np.uint8
    assert obs["wrist_images"].shape == (2, 3, 128, 128) and obs["wrist_images"].dtype == np.uint8
    assert obs["states"].shape == (2, 8) and obs["states"].dtype == np.float32
    assert obs["task_descriptions"] == [env.task_descriptions[0]] * 2
    assert "black bowl" in obs["task_descriptions"][0]
    assert infos["reset_state_ids"].tolist() == [0, 1]
    # Settled with the gripper open: fingers apart, symmetric.
    fingers = obs["states"][:, 6:8]
    assert (fingers[:, 0] > 0.015).all() and np.allclose(fingers[:, 0], -fingers[:, 1], atol=2e-3)
    assert obs["images"].std() > 10  # a real rendered scene, not a blank frame


def test_seeded_reset_is_deterministic_and_states_differ(env: LiberoEnv) -> None:
    first, _ = env.reset(seed=3)
    env.chunk_step(chunk(2, 3, dx=1.0))  # disturb the scene before resetting again
    second, _ = env.reset(seed=3)
    assert checksum(first, 0) == checksum(second, 0) and checksum(first, 1) == checksum(second, 1)
    # seed 3 -> init state 3 for sub-env 0, state 4 for sub-env 1: different scenes.
    assert env.pair_of(0) == (0, 3) and env.pair_of(1) == (0, 4)
    assert not np.array_equal(first["images"][0], first["images"][1])
    SHARED["checksum"] = checksum(first, 0)  # compared after a worker restart, in a new process


def test_scripted_actions_move_the_end_effector(env: LiberoEnv) -> None:
    obs, _ = env.reset(seed=0)
    start = obs["states"][:, :3].copy()
    out = env.chunk_step(chunk(2, 3, dx=1.0))
    moved = out.observations["states"][:, :3] - start
    assert (moved[:, 0] > 0.01).all(), moved  # +x commanded: centimetres along +x, little elsewhere
    assert (np.abs(moved[:, 0]) > 2 * np.abs(moved[:, 1:]).max(axis=1)).all(), moved
    assert out.valid.all() and not out.terminations.any() and (out.rewards == 0).all()
    obs, _ = env.reset(seed=0)
    up = env.chunk_step(chunk(2, 3, dz=1.0))
    moved = up.observations["states"][:, :3] - obs["states"][:, :3]
    assert (moved[:, 2] > 0.01).all(), moved
    assert (moved[:, 2] > 2 * np.abs(moved[:, :2]).max(axis=1)).all(), moved


def test_gripper_convention_plus_one_closes(env: LiberoEnv) -> None:
    obs, _ = env.reset(options={GROUP_SIZE_OPTION: 2})  # both sub-envs in the same init state
    assert checksum(obs, 0) == checksum(obs, 1)
    actions = chunk(2, 4)
    actions[0, :, 6], actions[1, :, 6] = CLOSE, OPEN
    states = env.chunk_step(actions).observations["states"]
    width = states[:, 6] - states[:, 7]
    assert width[0] < width[1] - 0.002, width


def test_truncation_autoreset_and_metrics(env: LiberoEnv) -> None:
    env.reset(seed=5)
    before = env.reset_state_ids.copy()
    out = env.chunk_step(chunk(2, 4))
    assert not out.infos["done"].any()
    out = env.chunk_step(chunk(2, 4))
    assert out.truncations[:, 1].all() and not out.valid[:, 2:].any()  # 4 + 2 = MAX_STEPS
    assert out.infos["done"].all() and (out.infos["episode"]["episode_len"] == MAX_STEPS).all()
    assert not out.infos["episode"]["success_once"].any() and not out.infos["env_failed"].any()
    after = out.infos["reset_state_ids"]
    assert len({*before.tolist(), *after.tolist()}) == 4  # fresh init states, none repeated


def test_group_reset_shares_init_state_across_episodes(env: LiberoEnv) -> None:
    obs, infos = env.reset(options={GROUP_SIZE_OPTION: 2})
    assert infos["reset_state_ids"][0] == infos["reset_state_ids"][1]
    assert checksum(obs, 0) == checksum(obs, 1)
    first = int(infos["reset_state_ids"][0])
    out = env.chunk_step(chunk(2, MAX_STEPS))  # both truncate, then autoreset
    ids = out.infos["reset_state_ids"]
    assert ids[0] == ids[1] != first
    assert checksum(out.observations, 0) == checksum(out.observations, 1)


class StillPolicy:
    """Holds the arm still (gripper open) for chunks of 3: every episode runs to MAX_STEPS."""

    action_chunk = 3
    gripper_convention = "close_positive"

    def act(self, obs: dict[str, Any], deterministic: bool = False) -> Any:
        return SimpleNamespace(actions=torch.as_tensor(chunk(len(obs["states"]), 3)))


def test_eval_episodes_scores_the_first_init_states_only(env: LiberoEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlarl.runner.evaluate import run_rounds

    resets: list[list[tuple[int, int]]] = []
    real_reset = env.reset

    def recording_reset(*args: Any, **kwargs: Any) -> Any:
        out = real_reset(*args, **kwargs)
        resets.append([env.pair_of(i) for i in range(env.num_envs)])
        return out

    monkeypatch.setattr(env, "reset", recording_reset)
    results = run_rounds(env, StillPolicy(), 3, deterministic=True, seed=0)
    # runner.eval_episodes=3 of task 0's 50 init states: states 0, 1, 2 in two rounds of 2 sub-envs, not all 50.
    assert {t: len(eps) for t, eps in results.items()} == {env.task_descriptions[0]: 3}
    assert resets == [[(0, 0), (0, 1)], [(0, 2), (0, 3)]]


def test_wrong_action_width_is_rejected(env: LiberoEnv) -> None:
    env.reset(seed=0)
    with pytest.raises(ContractError, match="action_dim=7"):
        env.chunk_step(np.zeros((2, 2, 6), dtype=np.float32))


def test_conformance_kit(env: LiberoEnv) -> None:
    from vlarl.testing import check_env

    class Shared:
        """The kit closes envs it makes; keep the module's env (a restart costs seconds)."""

        def __init__(self, inner: LiberoEnv) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def close(self) -> None:
            pass

    check_env(lambda: Shared(env), chunk_len=2, name="libero").raise_if_failed()


def test_killed_and_hung_workers_are_restarted_and_episodes_reported_failed(env: LiberoEnv) -> None:
    env.reset(seed=0)
    old = env.worker_pids
    env.cfg.step_timeout_s = 5.0
    os.kill(old[0], signal.SIGKILL)  # a crashed simulator
    os.kill(old[1], signal.SIGSTOP)  # a simulator that never answers
    time.sleep(0.5)
    try:
        out = env.chunk_step(chunk(2, 3))
    finally:
        env.cfg.step_timeout_s = 120.0
    assert out.infos["env_failed"].tolist() == [True, True]
    errors = "\n".join(out.infos["worker_errors"])
    assert "worker 0: process died" in errors, errors
    assert "worker 1: no answer within 5 s" in errors
    assert out.truncations[:, 0].all() and not out.valid[:, 1:].any()
    assert not out.infos["episode"]["success_once"].any()
    pids = env.worker_pids
    assert pids[0] != old[0] and pids[1] != old[1] and env.restarts == 2
    # The run goes on, and a new process renders the same pixels for the same init state.
    out = env.chunk_step(chunk(2, 2))
    assert out.valid.all() and not out.infos["env_failed"].any()
    obs, _ = env.reset(seed=3)
    assert checksum(obs, 0) == SHARED["checksum"]
