"""Which (task, init state) each sub-env resets to: seeded, grouped, or the next unused one."""

from __future__ import annotations

import numpy as np


class ResetSchedule:
    """Reset-state ids over the (task, init state) pairs of the selected tasks.

    * A reset with seed ``s`` goes to pair ``s % num_pairs``; pairs are enumerated state-major
      ((t0, s0), (t1, s0), ..., (t0, s1), ...), so consecutive seeds spread over the tasks.
    * An unseeded reset takes the next pair of a shuffled order (seed ``order_seed``), without
      repetition until every pair was used, then a fresh shuffle.
    * Sub-envs in one group share the state of each of their episodes: the k-th episode of every
      member starts from the group's k-th state, even when members finish at different times.
    """

    def __init__(self, task_ids: list[int], num_states: dict[int, int], order_seed: int, shuffle: bool) -> None:
        depth = max(num_states[t] for t in task_ids)
        self.pairs: list[tuple[int, int]] = [(t, s) for s in range(depth) for t in task_ids if s < num_states[t]]
        self._rng = np.random.default_rng(order_seed)
        self._shuffle = shuffle
        self._order: list[int] = []
        self._group_of: dict[int, int] = {}
        self._episode: dict[int, int] = {}
        self._group_states: dict[int, list[int]] = {}
        self._last: dict[int, int] = {}

    @property
    def num_pairs(self) -> int:
        return len(self.pairs)

    def _next_unused(self, avoid: int | None = None) -> int:
        """Next pair of the shuffled order; never ``avoid`` (the state just played) when another exists."""
        if not self._order:
            idx = np.arange(self.num_pairs)
            self._order = list(self._rng.permutation(idx) if self._shuffle else idx)
        pick = int(self._order.pop(0))
        if pick == avoid and self.num_pairs > 1:
            other = self._next_unused()
            self._order.insert(0, pick)  # still unused: played next time
            return other
        return pick

    def set_groups(self, group_ids: list[int] | None, num_envs: int) -> None:
        """Start new grouping (or none) after a full reset."""
        self._group_of = {} if group_ids is None else {i: int(g) for i, g in enumerate(group_ids)}
        self._episode = {i: 0 for i in range(num_envs)}
        self._group_states = {}

    def assign(self, env_id: int, seed: int | None) -> int:
        """Pair index for the next episode of sub-env ``env_id``."""
        group = self._group_of.get(env_id)
        k = self._episode.get(env_id, 0)
        self._episode[env_id] = k + 1
        if group is None:
            pick = seed % self.num_pairs if seed is not None else self._next_unused(self._last.get(env_id))
            self._last[env_id] = pick
            return pick
        states = self._group_states.setdefault(group, [])
        if k == len(states):
            seeded = seed is not None and k == 0
            states.append(seed % self.num_pairs if seeded else self._next_unused(states[-1] if states else None))
        return states[k]
