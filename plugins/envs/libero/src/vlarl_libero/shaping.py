"""Dense reward shaping for LIBERO pick-and-place goals (``env.reward_type: shaped``), from privileged state.

LIBERO's own reward is sparse: 1 when the goal holds. From a warm start whose failures are set by the init
state, exploration rarely reaches a success there, so neither a critic nor a group baseline has anything to
reinforce. Shaping adds the change of a potential ``phi`` of the state at every step::

    reward = success reward + scale * (phi(s') - phi(s))

Over an episode the shaping terms sum to ``scale * (phi(last) - phi(first))``: a policy cannot earn it by
lingering, only by making progress, and the potential is highest (1) when the goal holds, so the task's optimum
is not moved (Ng, Harada & Russell 1999; exactly so for an undiscounted return). The potential, in stages
as in robosuite's shaped pick-and-place rewards::

    reach  = reach_weight * (1 - tanh(10 * reach_gap))                         before the object is held
    held   = held_base + place_weight * (1 - tanh(10 * |object_xy - target_xy|))  while it is held up
    phi    = 1 when the goal holds, else max(reach, held)

``reach_gap`` is ``|eef - object origin|`` (``reach_to="origin"``, the default), or with ``reach_to="grasp"``
the distance to where the scripted expert closes its gripper (``vlarl_libero.expert.grasp_offset``): for a bowl
the ring of rim grasp points 4.5 cm out and 3.5 cm up from its origin. A hand hovering 5-6 cm over a bowl's
origin is as close to that origin as a rim grasp, so only the grasp-aimed gap pays for the last descent.

"Held up" = the object has risen ``lift_min`` above its height at the reset and the end effector is within
``hold_distance`` of it (a bowl is held by its rim, about 6 cm from its origin).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vlarl_libero.expert import grasp_offset

AXES = ("x", "y", "z")
REACH_TO = ("origin", "grasp")


@dataclass(frozen=True)
class ShapingParams:
    reach_weight: float = 0.1
    held_base: float = 0.5
    place_weight: float = 0.3
    lift_min: float = 0.005  # metres above the object's height at the reset
    hold_distance: float = 0.08  # metres from the end effector to the object's origin
    sharpness: float = 10.0  # 1/metres inside the tanh
    reach_to: str = "origin"  # "origin" or "grasp": what reach_gap measures to (module docstring)

    def __post_init__(self) -> None:
        if self.reach_to not in REACH_TO:
            raise ValueError(f"reach_to={self.reach_to!r}: expected one of {REACH_TO}")


class PickPlacePotential:
    """``phi`` for sub-envs running tasks whose goal moves one object onto or into another."""

    def __init__(
        self,
        state_names: Sequence[str],
        pairs: Mapping[int, tuple[str, str]],
        params: ShapingParams | None = None,
    ) -> None:
        """``pairs``: task id -> (object to move, target), e.g. from ``vlarl_libero.expert.pick_place_pair``."""
        self.p = params or ShapingParams()
        index = {n: i for i, n in enumerate(state_names)}

        def position(prefix: str) -> np.ndarray:  # "eef_pos" or an object name (its "<name>.pos.x" ...)
            names = [f"{prefix}.{a}" for a in AXES]
            missing = [n for n in names if n not in index]
            if missing:
                raise KeyError(f"states have no {missing} (needs env.privileged_state=true)")
            return np.array([index[n] for n in names])

        self._eef = position("eef_pos")
        self._moved = {t: position(f"{moved}.pos") for t, (moved, _) in pairs.items()}
        self._target = {t: position(f"{target}.pos") for t, (_, target) in pairs.items()}
        # Per task: (horizontal, vertical) offset of the grasp from the moved object's origin.
        self._grasp = {t: grasp_offset(moved) for t, (moved, _) in pairs.items()}

    def _gather(self, states: np.ndarray, table: Mapping[int, np.ndarray], task_ids: Sequence[int]) -> np.ndarray:
        idx = np.stack([table[int(t)] for t in task_ids])
        return states[np.arange(len(idx))[:, None], idx]

    def object_heights(self, states: np.ndarray, task_ids: Sequence[int]) -> np.ndarray:
        """Height of each sub-env's object to move (record it at the reset, for ``lift_min``)."""
        return self._gather(states, self._moved, task_ids)[:, 2].copy()

    def __call__(
        self, states: np.ndarray, task_ids: Sequence[int], start_heights: np.ndarray, success: np.ndarray
    ) -> np.ndarray:
        p = self.p
        eef = states[:, self._eef]
        obj = self._gather(states, self._moved, task_ids)
        target = self._gather(states, self._target, task_ids)
        origin_gap = np.linalg.norm(eef - obj, axis=1)
        reach_gap = origin_gap if p.reach_to == "origin" else self._grasp_gap(eef, obj, task_ids)
        reach = p.reach_weight * (1.0 - np.tanh(p.sharpness * reach_gap))
        held = (obj[:, 2] - start_heights >= p.lift_min) & (origin_gap <= p.hold_distance)
        place_gap = np.linalg.norm(obj[:, :2] - target[:, :2], axis=1)
        carry = p.held_base + p.place_weight * (1.0 - np.tanh(p.sharpness * place_gap))
        phi = np.where(held, np.maximum(reach, carry), reach)
        return np.where(success, 1.0, phi).astype(np.float32)

    def _grasp_gap(self, eef: np.ndarray, obj: np.ndarray, task_ids: Sequence[int]) -> np.ndarray:
        """Distance from the end effector to the nearest grasp point: a ring around the object's vertical axis."""
        radius, height = np.array([self._grasp[int(t)] for t in task_ids]).T
        d = eef - obj
        return np.hypot(np.linalg.norm(d[:, :2], axis=1) - radius, d[:, 2] - height)
