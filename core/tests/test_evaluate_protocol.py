"""vlarl eval's protocol: every reset state once per pass for envs that declare them; Wilson intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from toys import GaussPolicy, LineEnv

from vlarl.runner.evaluate import run_rounds, summarize, wilson_interval


class StatesEnv(LineEnv):
    """LineEnv whose reset seed s picks reset state s % num_reset_states; records which states were played."""

    def __init__(self, num_envs: int, num_reset_states: int) -> None:
        super().__init__(num_envs, max_episode_steps=3)
        self.num_reset_states = num_reset_states
        self.played: list[int] = []
        self.current = np.zeros(num_envs, dtype=np.int64)

    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> Any:
        for i, s in zip(ids, seeds):
            self.current[i] = -1 if s is None else s % self.num_reset_states
        return super().reset_envs(ids, seeds, options)

    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> Any:
        out = super().step_envs(ids, actions)
        ended = self._ep_len[ids] + 1 >= self.max_episode_steps
        self.played += [int(self.current[i]) for i in ids[ended]]
        return out


@pytest.mark.parametrize(("num_envs", "states", "episodes", "passes"), [(4, 10, 3, 1), (3, 7, 7, 1), (4, 6, 10, 2)])
def test_every_reset_state_is_played_once_per_pass(num_envs, states, episodes, passes):
    env = StatesEnv(num_envs, states)
    policy = GaussPolicy(chunk=1, action_dim=2)
    policy.net.weight.data.zero_()  # never reaches the goal: every episode runs its 3 steps
    results = run_rounds(env, policy, episodes, deterministic=True, seed=0)
    counted = results["move right"]
    assert len(counted) == states * passes
    first_episodes = [s for s in env.played if s >= 0]  # autoreset episodes (unseeded) are not counted
    assert sorted(first_episodes[: states * passes]) == sorted(list(range(states)) * passes)


def test_without_reset_states_rounds_run_until_each_task_has_its_episodes():
    env = LineEnv(num_envs=3, max_episode_steps=3)
    results = run_rounds(env, GaussPolicy(chunk=1, action_dim=2), 7, deterministic=True, seed=0)
    assert len(results["move right"]) == 9  # 3 rounds of 3


def test_wilson_interval_matches_known_values_and_summaries_carry_it():
    low, high = wilson_interval(12, 50)  # textbook: 0.143 - 0.374
    assert low == pytest.approx(0.1430, abs=1e-3) and high == pytest.approx(0.3742, abs=1e-3)
    assert wilson_interval(0, 50) == (0.0, pytest.approx(0.0713, abs=1e-3))
    assert wilson_interval(50, 50)[1] == 1.0
    eps = [{"success_once": float(i < 3), "success_at_end": 0.0, "return": 0.0, "episode_len": 1.0} for i in range(10)]
    summary = summarize({"t": eps})
    assert summary["tasks"]["t"]["success_rate"] == 0.3
    assert summary["overall"]["success_ci95"] == list(wilson_interval(3, 10))
