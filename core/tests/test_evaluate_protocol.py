"""vlarl eval's protocol: every reset state once by default, exactly runner.eval_episodes per task when set;
Wilson intervals."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from toys import GaussPolicy, LineEnv

from vlarl.contracts.spaces import ObservationSpec
from vlarl.runner.evaluate import DEFAULT_EPISODES, run_rounds, summarize, wilson_interval


class StatesEnv(LineEnv):
    """LineEnv with LIBERO's reset contract: seed s starts from reset pair s % num_reset_states, the pairs
    enumerated state-major over ``num_tasks`` tasks (pair p is state p // T of task p % T). Every step pays
    the pair's id, so an episode's return (3 steps with a still policy) names the pair it started from."""

    def __init__(self, num_envs: int, num_reset_states: int, num_tasks: int = 1) -> None:
        super().__init__(num_envs, max_episode_steps=3)
        self.num_reset_states, self.num_tasks = num_reset_states, num_tasks
        self.observation_spec = ObservationSpec(states=(1,), tasks=tuple(f"task {t}" for t in range(num_tasks)))
        self.pair = np.zeros(num_envs, dtype=np.int64)

    def _obs(self, ids: np.ndarray) -> Any:
        return {**super()._obs(ids), "task_descriptions": [f"task {self.pair[i] % self.num_tasks}" for i in ids]}

    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> Any:
        for i, s in zip(ids, seeds):
            self.pair[i] = -1000 if s is None else s % self.num_reset_states  # autoresets are never counted
        return super().reset_envs(ids, seeds, options)

    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> Any:
        out = super().step_envs(ids, actions)
        return dataclasses.replace(out, rewards=self.pair[ids].astype(np.float32))


def still_policy() -> GaussPolicy:
    policy = GaussPolicy(chunk=1, action_dim=2)
    policy.net.weight.data.zero_()
    policy.net.bias.data.zero_()  # never reaches the goal: every episode runs its 3 steps
    return policy


def pairs_played(results: dict[str, list[dict[str, float]]]) -> dict[str, list[int]]:
    return {task: sorted(round(e["return"] / 3) for e in eps) for task, eps in results.items()}


@pytest.mark.parametrize(("num_envs", "states"), [(4, 10), (3, 7), (4, 6), (2, 50)])
def test_by_default_every_reset_state_is_played_exactly_once(num_envs, states):
    results = run_rounds(StatesEnv(num_envs, states), still_policy(), None, deterministic=True, seed=0)
    assert pairs_played(results) == {"task 0": list(range(states))}


@pytest.mark.parametrize(
    ("num_envs", "states", "episodes", "expected"),
    [
        (2, 50, 5, [0, 1, 2, 3, 4]),  # the sft_vla benchmark's case: 5 of LIBERO's 50 init states, not 50
        (4, 10, 3, [0, 1, 2]),
        (3, 7, 7, list(range(7))),
        (4, 6, 10, sorted([*range(6), *range(4)])),  # past the count: the states again, in order
    ],
)
def test_eval_episodes_plays_exactly_that_many_first_reset_states(num_envs, states, episodes, expected):
    results = run_rounds(StatesEnv(num_envs, states), still_policy(), episodes, deterministic=True, seed=0)
    assert pairs_played(results) == {"task 0": expected}


@pytest.mark.parametrize(("num_envs", "states", "episodes"), [(4, 10, None), (3, 7, 14), (4, 6, 10)])
def test_each_episode_names_the_reset_state_it_started_from(num_envs, states, episodes):
    results = run_rounds(StatesEnv(num_envs, states), still_policy(), episodes, deterministic=True, seed=0)
    for e in results["task 0"]:
        assert e["reset_index"] == round(e["return"] / 3)  # the pair the env paid out as its reward


def test_eval_episodes_counts_per_task_over_several_tasks():
    env = StatesEnv(num_envs=3, num_reset_states=12, num_tasks=3)  # 4 init states per task
    results = run_rounds(env, still_policy(), 2, deterministic=True, seed=0)
    # Pairs 0..5 are states 0 and 1 of tasks 0, 1, 2.
    assert pairs_played(results) == {"task 0": [0, 3], "task 1": [1, 4], "task 2": [2, 5]}
    results = run_rounds(env, still_policy(), None, deterministic=True, seed=0)
    assert {t: len(p) for t, p in pairs_played(results).items()} == {"task 0": 4, "task 1": 4, "task 2": 4}


def test_without_reset_states_each_task_gets_exactly_its_episodes():
    env = LineEnv(num_envs=3, max_episode_steps=3)
    assert len(run_rounds(env, still_policy(), 7, deterministic=True, seed=0)["move right"]) == 7
    default = run_rounds(env, still_policy(), None, deterministic=True, seed=0)["move right"]
    assert len(default) == DEFAULT_EPISODES


def test_wilson_interval_matches_known_values_and_summaries_carry_it():
    low, high = wilson_interval(12, 50)  # textbook: 0.143 - 0.374
    assert low == pytest.approx(0.1430, abs=1e-3) and high == pytest.approx(0.3742, abs=1e-3)
    assert wilson_interval(0, 50) == (0.0, pytest.approx(0.0713, abs=1e-3))
    assert wilson_interval(50, 50)[1] == 1.0
    eps = [{"success_once": float(i < 3), "success_at_end": 0.0, "return": 0.0, "episode_len": 1.0} for i in range(10)]
    summary = summarize({"t": eps})
    assert summary["tasks"]["t"]["success_rate"] == 0.3
    assert summary["overall"]["success_ci95"] == list(wilson_interval(3, 10))


def test_sub_envs_whose_counted_episode_ended_stop_simulating():
    # 8 states on 3 sub-envs: the last round counts 2 of its 3 sub-envs. With the hold no sub-step is spent
    # outside the counted episodes (without it, the third sub-env of that round would run its 3 steps too).
    env = StatesEnv(num_envs=3, num_reset_states=8)
    results = run_rounds(env, still_policy(), None, deterministic=True, seed=0)
    played = sum(int(e["episode_len"]) for eps in results.values() for e in eps)
    assert env.steps_taken == played
