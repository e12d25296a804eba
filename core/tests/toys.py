"""Tiny deterministic env and policy used by the core tests (no plugin needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy, EvalOutput, Replay
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.envs.substep import SubStepResult, SubStepVectorEnv


class LineEnv(SubStepVectorEnv):
    """A point on a line: the state is its position; it succeeds (and terminates) past +goal.

    The reset seed sets the start position, so equal seeds give equal starts.
    """

    def __init__(self, num_envs: int = 4, max_episode_steps: int = 10, goal: float = 3.0) -> None:
        super().__init__(num_envs, max_episode_steps)
        self.goal = goal
        self.pos = np.zeros(num_envs, dtype=np.float32)
        self.rngs = [np.random.default_rng(i) for i in range(num_envs)]
        self.observation_spec = ObservationSpec(states=(1,))
        self.action_spec = ActionSpec(
            (ActionDim("dx", -1.0, 1.0), ActionDim("gripper", -1, 1, "gripper")), gripper="open_positive"
        )
        self.steps_taken = 0

    def _obs(self, ids: np.ndarray) -> ObsBatch:
        return {"states": self.pos[ids, None].copy(), "task_descriptions": ["move right"] * len(ids)}

    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> ObsBatch:
        for i, s in zip(ids, seeds):
            if s is not None:
                self.rngs[i] = np.random.default_rng(s)
            self.pos[i] = self.rngs[i].uniform(-1, 1)
        return self._obs(ids)

    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> SubStepResult:
        self.steps_taken += len(ids)
        self.pos[ids] += np.clip(actions[:, 0], -1, 1)
        success = self.pos[ids] > self.goal
        return SubStepResult(self._obs(ids), success.astype(np.float32), success, np.zeros(len(ids), bool), success)


class GaussPolicy(ChunkedPolicy):
    logprob_type = "action"

    def __init__(self, chunk: int = 2, action_dim: int = 2, critic: bool = True) -> None:
        super().__init__()
        self.action_chunk, self.action_dim, self.has_critic = chunk, action_dim, critic
        self.net = nn.Linear(1, chunk * action_dim)
        self.log_std = nn.Parameter(torch.zeros(chunk, action_dim))
        self.value_head = nn.Linear(1, 1)

    def _dist(self, states: torch.Tensor) -> Normal:
        mean = self.net(states).view(-1, self.action_chunk, self.action_dim)
        return Normal(mean, self.log_std.exp().expand_as(mean))

    def _values(self, states: torch.Tensor) -> torch.Tensor | None:
        return self.value_head(states).squeeze(-1) if self.has_critic else None

    @torch.no_grad()
    def act(self, obs: ObsBatch, deterministic: bool = False) -> ActOutput:
        states = torch.as_tensor(np.asarray(obs["states"]), dtype=torch.float32)
        dist = self._dist(states)
        a = dist.mean if deterministic else dist.sample()
        return ActOutput(a, dist.log_prob(a).sum(-1), self._values(states), {"states": states, "actions": a})

    def evaluate(self, replay: Replay) -> EvalOutput:
        dist = self._dist(replay["states"])
        return EvalOutput(
            dist.log_prob(replay["actions"]).sum(-1), dist.entropy().sum(-1), self._values(replay["states"])
        )
