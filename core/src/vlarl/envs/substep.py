"""A base class that turns per-sub-step stepping into the chunked contract.

Env plugins implement two methods over *subsets* of sub-envs, and this class
does the rest once, for all of them: the chunk loop, the validity mask,
episode bookkeeping (return, length, success_once, success_at_end),
truncation at ``max_episode_steps``, autoreset at the chunk boundary,
``final_observation`` and group-shared reset seeds.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlarl.contracts import observation as ob
from vlarl.contracts.env import GROUP_SIZE_OPTION, ChunkedVectorEnv, ChunkStep, group_seeds
from vlarl.contracts.observation import ObsBatch
from vlarl.errors import ContractError


def chunk_actions(actions: Any, num_envs: int, action_dim: int) -> np.ndarray:
    """A chunk of actions (array or tensor) as float32 [num_envs, C, action_dim]; any other shape is named."""
    if hasattr(actions, "detach"):
        actions = actions.detach().cpu().numpy()
    actions = np.asarray(actions, dtype=np.float32)
    if actions.ndim != 3 or actions.shape[0] != num_envs or actions.shape[2] != action_dim:
        raise ContractError(
            f"Actions must have shape [num_envs={num_envs}, chunk, action_dim={action_dim}], "
            f"got {tuple(actions.shape)}.",
            "Check the policy's action_dim and chunk length against the env's action_spec.",
        )
    return actions


@dataclass
class SubStepResult:
    """Outcome of one sub-step for the sub-envs ``ids`` (arrays of len(ids))."""

    observations: ObsBatch
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    successes: np.ndarray


class SubStepVectorEnv(ChunkedVectorEnv):
    """Implement :meth:`reset_envs` and :meth:`step_envs`; chunking comes for free."""

    _idle: np.ndarray | None = None  # sub-envs held out of chunk steps until the next reset (see set_idle)

    def __init__(self, num_envs: int, max_episode_steps: int) -> None:
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self._current: ObsBatch | None = None
        self._ep_return = np.zeros(num_envs, dtype=np.float64)
        self._ep_len = np.zeros(num_envs, dtype=np.int64)
        self._ep_success_once = np.zeros(num_envs, dtype=bool)
        self._ep_success_last = np.zeros(num_envs, dtype=bool)

    @abstractmethod
    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> ObsBatch:
        """Reset sub-envs ``ids``; same seed => same initial state. Returns their observations."""

    @abstractmethod
    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> SubStepResult:
        """Step sub-envs ``ids`` by one action each (``actions``: [len(ids), A], env units)."""

    def set_idle(self, idle: Any) -> None:
        """Hold the sub-envs where ``idle`` is true out of the coming chunk steps, until the next ``reset()``:
        they are neither stepped nor auto-reset, their entries are invalid and their observations unchanged.

        ``vlarl eval`` idles the sub-envs whose counted episode has ended, so a round no longer simulates
        every sub-env until its slowest finishes (on LIBERO, a 280-step failure).
        """
        idle = np.asarray(idle, dtype=bool)
        if idle.shape != (self.num_envs,):
            raise ContractError(
                f"set_idle needs one flag per sub-env, shape ({self.num_envs},), got {idle.shape}.",
                "Pass a boolean array of length num_envs.",
            )
        self._idle = idle.copy()

    @property
    def current_observations(self) -> ObsBatch | None:
        """The latest observation batch (after autoreset), or None before the first reset."""
        return self._current

    # ------------------------------------------------------------------ contract
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsBatch, dict[str, Any]]:
        options = dict(options or {})
        group_size = options.get(GROUP_SIZE_OPTION)
        seeds = group_seeds(self.num_envs, seed, group_size)
        ids = np.arange(self.num_envs)
        if group_size:
            options["group_ids"] = ids // group_size
        self._idle = None
        self._current = self.reset_envs(ids, seeds, options)
        self._clear_episodes(ids)
        return ob.copy(self._current), {}

    def chunk_step(self, actions: Any) -> ChunkStep:
        if self._current is None:
            raise ContractError("chunk_step() called before reset().", "Call env.reset() first.")
        actions = chunk_actions(actions, self.num_envs, self.action_spec.dim)
        n, c = actions.shape[:2]
        rewards = np.zeros((n, c), dtype=np.float32)
        terms = np.zeros((n, c), dtype=bool)
        truncs = np.zeros((n, c), dtype=bool)
        valid = np.zeros((n, c), dtype=bool)
        idle = self._idle if self._idle is not None else np.zeros(n, dtype=bool)
        active = ~idle
        all_ids = np.arange(n)
        for k in range(c):
            # While every sub-env runs, a slice indexes the bookkeeping arrays (cheaper than fancy indexing).
            ids = all_ids if active.all() else np.flatnonzero(active)
            if ids.size == 0:
                break
            sel = slice(None) if ids.size == n else ids
            res = self.step_envs(ids, actions[sel, k])
            ob.put(self._current, sel, res.observations)
            self._ep_len[sel] += 1
            self._ep_return[sel] += res.rewards
            success = res.successes.astype(bool)
            self._ep_success_once[sel] |= success
            self._ep_success_last[sel] = success
            term = res.terminations.astype(bool)
            trunc = (res.truncations.astype(bool) | (self._ep_len[sel] >= self.max_episode_steps)) & ~term
            rewards[sel, k] = res.rewards
            terms[sel, k] = term
            truncs[sel, k] = trunc
            valid[sel, k] = True
            active[ids[term | trunc]] = False
        done = ~active & ~idle
        episode = {
            "success_once": self._ep_success_once.copy(),
            "success_at_end": self._ep_success_last.copy(),
            "return": self._ep_return.astype(np.float32),
            "episode_len": self._ep_len.copy(),
        }
        if done.any():
            final_obs = ob.copy(self._current)
            ids = np.flatnonzero(done)
            ob.put(self._current, ids, self.reset_envs(ids, [None] * ids.size, {}))
            self._clear_episodes(ids)
            observations = ob.copy(self._current)
        else:
            # Nothing finished: the final observation is the next one (one copy, shared by both keys).
            observations = final_obs = ob.copy(self._current)
        infos = {"done": done, "episode": episode, "final_observation": final_obs}
        return ChunkStep(observations, rewards, terms, truncs, valid, infos)

    def _clear_episodes(self, ids: np.ndarray) -> None:
        self._ep_return[ids] = 0.0
        self._ep_len[ids] = 0
        self._ep_success_once[ids] = False
        self._ep_success_last[ids] = False
