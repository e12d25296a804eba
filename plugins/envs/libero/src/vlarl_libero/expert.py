"""A scripted pick-and-place expert for LIBERO goals ``(On A B)`` / ``(In A B)``, driven by privileged state.

It reads only the ``states`` vector (looked up by ``observation_spec.state_names``, so it needs
``privileged_state: true``) and the task's BDDL goal, and emits the 7-dim delta OSC actions a policy
emits (LIBERO's sign: -1 opens, +1 closes the gripper). One state machine per sub-env::

    approach (above the grasp point) -> descend -> close -> lift -> carry (above the target)
    -> lower -> release -> retreat

Bowls (wider than the 8 cm gripper opening) are taken by the rim, from the side with the most room around
the outer finger among reachable sides; other objects from above their centre. Fixtures (drawer walls) are
not in the state: a descent that stalls, or a grasp that does not lift the object, is retried from another
side. Tuned and measured on libero_spatial (benchmarks/libero_expert.py); other suites' objects untested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlarl_libero.rotations import axis_angle_to_matrix, matrix_to_rotvec, quat_xyzw_to_matrix, rot_z

OPEN, CLOSE = -1.0, 1.0
# Gripper pointing down (robosuite eef quaternion (1, 0, 0, 0)); its fingers then close along world y.
DOWN = np.diag([1.0, -1.0, -1.0])
# Grasp sides: unit xy directions from the object's centre to the grasp point, every 45 degrees.
SIDES = [np.array([np.cos(a), np.sin(a)]) for a in np.arange(8) * np.pi / 4]
# Room (metres) a grasp side must win by over the side rims (+-y, the gripper's default yaw): turning the
# wrist costs steps and, near the workspace edge, runs into joint limits. The near rim (-x) comes next.
SIDE_PENALTY = [0.08, 0.07, 0.0, 0.05, 0.04, 0.05, 0.0, 0.07]


@dataclass(frozen=True)
class ExpertParams:
    """Gains and geometry (metres, radians); the defaults are the ones measured on libero_spatial."""

    # OSC_POSE maps an input of 1.0 to a 0.05 m / 0.5 rad goal offset: gain 20 asks for the whole error.
    kp: float = 20.0
    ki: float = 0.3  # integral term within ``integral_zone`` of the target: removes the last 1-2 cm of sag
    integral_zone: float = 0.03
    kr: float = 2.0  # orientation: 1/0.5 rad
    # Bowl rim grasp: gripper centre this far from the bowl centre, this high above the bowl's origin.
    rim_radius: float = 0.045
    rim_height: float = 0.035
    regrasp_depth: float = 0.01  # after a slip, the same side is tried again this much lower
    # Objects without a rim: grasp this high above the object's origin.
    centre_height: float = 0.02
    finger_reach: float = 0.045  # outer finger beyond the gripper centre, along the finger axis
    enough_room: float = 0.08  # more room than this around the outer finger counts no more
    # Grasp points beyond this x (robot base at x = -0.66) are hard to reach pointing down.
    far_x: float = 0.08
    reach_penalty: float = 20.0  # room lost per metre a grasp point lies beyond far_x
    approach_height: float = 0.10  # above the grasp point before descending
    carry_clearance: float = 0.12  # object origin above the higher of start and target while carrying
    place_height: float = 0.015  # object origin above the target's origin when released
    pos_tol: float = 0.008
    rot_tol: float = 0.08
    close_steps: int = 10
    release_steps: int = 8
    open_width: float = 0.07  # finger gap (sum of the two finger joints) that counts as open
    drop_distance: float = 0.04  # the object this far from its place in the hand has been dropped
    place_tol: float = 0.025  # after the retreat, an object further than this from the target is placed again
    settle_steps: int = 15  # retreat steps before judging where the object came to rest
    lift_check: float = 0.03  # the object must have risen this much by the end of the lift, else retry
    max_retries: int = 3
    stall_steps: int = 8  # a descent that gained less than 3 mm in this many steps is blocked
    phase_timeout: int = 70


@dataclass
class _Episode:
    """Per sub-env controller state; a fresh one per episode."""

    phase: str = "approach"
    t: int = 0  # steps in the current phase
    integral: np.ndarray = field(default_factory=lambda: np.zeros(3))
    yaw: float | None = None  # gripper yaw of this grasp (0: fingers along world y)
    side: np.ndarray | None = None  # unit xy direction from the object's centre to the grasp point
    start_z: float = 0.0
    hold: np.ndarray | None = None  # eef minus object position, fixed when the grasp closed
    retries: int = 0
    tried: list[int] = field(default_factory=list)  # grasp sides tried (indices into SIDES)
    deeper: bool = False  # regrasping the same side regrasp_depth lower, after a slip
    heights: list[float] = field(default_factory=list)  # eef z during the descent, to notice a blocked one


def pick_place_pair(goal: Sequence[Sequence[str]], objects: Sequence[str]) -> tuple[str, str]:
    """(object to move, object to put it on or in) from BDDL goal predicates such as ("on", "bowl_1", "plate_1").

    ``In`` targets may name a region of an object (``basket_1_contain_region``): the object is used.
    """
    for pred in goal:
        if len(pred) != 3 or pred[0].lower() not in ("on", "in"):
            continue
        moved, target = pred[1], pred[2]
        if target not in objects:
            target = next((o for o in objects if target.startswith(o + "_")), target)
        if moved in objects and target in objects:
            return moved, target
    raise ValueError(
        f"The scripted expert handles (On A B) / (In A B) goals between objects of the state; got {list(goal)} "
        f"with objects {list(objects)}."
    )


def grasp_offset(moved: str, params: ExpertParams | None = None) -> tuple[float, float]:
    """(horizontal, vertical) metres from the object's origin to where the expert's gripper centre closes on it.

    A bowl is taken by its rim, from a side chosen per episode (a ring of grasp points); anything else from
    above its centre.
    """
    p = params or ExpertParams()
    return (p.rim_radius, p.rim_height) if "bowl" in moved else (0.0, p.centre_height)


class ScriptedExpert:
    """Actions for ``num_envs`` sub-envs from their observations; call :meth:`reset` when episodes end."""

    def __init__(
        self,
        state_names: Sequence[str],
        goals: Mapping[str, Sequence[Sequence[str]]],
        num_envs: int,
        params: ExpertParams | None = None,
    ) -> None:
        """``goals``: task description -> BDDL goal predicates (see ``LiberoEnv.task_goals``)."""
        self.p = params or ExpertParams()
        self.names = list(state_names)
        self._index = {n: i for i, n in enumerate(self.names)}
        missing = [n for n in ("eef_pos.x", "eef_axis_angle.x", "gripper_qpos.0") if n not in self._index]
        objects = sorted({n.split(".")[0] for n in self.names if n.endswith(".pos.x") and n != "eef_pos.x"})
        if missing or not objects:
            raise ValueError(
                "The scripted expert needs the robot dims and object poses in states (env.privileged_state=true); "
                f"state names: {self.names[:12]}..."
            )
        self.objects = objects
        # Task description -> (object to move, target), or the reason its goal is not pick-and-place (raised
        # only when a sub-env runs that task: a multi-task env may mix in tasks the expert cannot do).
        self.pairs: dict[str, tuple[str, str] | str] = {}
        for desc, goal in goals.items():
            try:
                self.pairs[desc] = pick_place_pair(goal, objects)
            except ValueError as exc:
                self.pairs[desc] = str(exc)
        self.num_envs = num_envs
        self._eps = [_Episode() for _ in range(num_envs)]

    @classmethod
    def for_env(cls, env: Any, params: ExpertParams | None = None) -> ScriptedExpert:
        """An expert for a ``LiberoEnv`` built with ``privileged_state=True``."""
        goals = {env.task_descriptions[t]: env.task_goals[t] for t in env.task_ids}
        return cls(env.observation_spec.state_names, goals, env.num_envs, params)

    def reset(self, env_ids: Sequence[int] | np.ndarray | None = None) -> None:
        """Start new episodes for ``env_ids`` (all when None), e.g. the sub-envs whose ``infos['done']`` is set."""
        ids = range(self.num_envs) if env_ids is None else [int(i) for i in np.asarray(env_ids).reshape(-1)]
        for i in ids:
            self._eps[i] = _Episode()

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        """[num_envs, 7] float32 actions for the current observations."""
        states = np.asarray(obs["states"], dtype=np.float64)
        out = np.zeros((self.num_envs, 7), dtype=np.float32)
        for i in range(self.num_envs):
            desc = obs["task_descriptions"][i]
            pair = self.pairs.get(desc, f"No goal is known for the task {desc!r} (goals: {sorted(self.pairs)}).")
            if isinstance(pair, str):
                raise ValueError(pair)
            out[i] = self._act_one(self._eps[i], states[i], *pair)
        return out

    # ------------------------------------------------------------------ internals
    def _pose(self, s: np.ndarray, obj: str) -> tuple[np.ndarray, np.ndarray]:
        i = self._index[f"{obj}.pos.x"]
        return s[i : i + 3], quat_xyzw_to_matrix(s[i + 3 : i + 7])

    def _present(self, s: np.ndarray) -> list[str]:
        """Objects of the current task (a task lacking an object has all-zero entries, even the quaternion)."""
        return [o for o in self.objects if np.any(s[self._index[f"{o}.quat.x"] : self._index[f"{o}.quat.x"] + 4])]

    def _plan_grasp(self, ep: _Episode, s: np.ndarray, moved: str, target: str) -> None:
        """Choose the untried grasp side with the most room around the outer finger (and so the gripper yaw).

        Fixtures (drawer walls, cabinets) are not in the state: a side where the descent is blocked is
        marked tried, and the next best side is taken.
        """
        pos, _ = self._pose(s, moved)
        ep.start_z = float(pos[2])
        if grasp_offset(moved, self.p)[0] == 0.0:  # no rim: from above the centre, fingers along y
            ep.yaw, ep.side = 0.0, np.zeros(2)
            return
        others = [self._pose(s, o)[0] for o in self._present(s) if o not in (moved, target)]
        # Obstacles at the object's own height or above (a box the bowl stands on is no obstacle).
        others = [o for o in others if o[2] > pos[2] - 0.005]
        reach = self.p.rim_radius + self.p.finger_reach

        def score(k: int) -> float:
            finger = pos[:2] + SIDES[k] * reach
            clear = min((float(np.linalg.norm(finger - o[:2])) for o in others), default=1.0)
            value = min(clear, self.p.enough_room) - SIDE_PENALTY[k]
            # Pointing down, the arm runs out of reach beyond far_x (robot base at x = -0.66): the further
            # a grasp point lies beyond it, the worse.
            beyond = pos[0] + SIDES[k][0] * self.p.rim_radius - self.p.far_x
            return value - self.p.reach_penalty * max(beyond, 0.0)

        untried = [k for k in range(len(SIDES)) if k not in ep.tried] or list(range(len(SIDES)))
        best = max(untried, key=score)
        ep.tried.append(best)
        ep.side = SIDES[best]
        # Fingers close along the gripper's y axis; the gripper is symmetric under a half turn: yaw in [-pi/2, pi/2].
        yaw = float(np.arctan2(-ep.side[0], ep.side[1]))
        ep.yaw = (yaw + np.pi / 2) % np.pi - np.pi / 2

    def _grasp_point(self, ep: _Episode, s: np.ndarray, moved: str) -> np.ndarray:
        pos, rot = self._pose(s, moved)
        if ep.side is None or not ep.side.any():
            return pos + np.array([0.0, 0.0, self.p.centre_height])
        # Follow a tilted bowl: offsets in the bowl's own frame (its up axis), the side kept horizontal.
        up = rot[:, 2]
        side = np.array([*ep.side, 0.0])
        side = side - side.dot(up) * up
        side /= np.linalg.norm(side)
        height = self.p.rim_height - (self.p.regrasp_depth if ep.deeper else 0.0)
        return pos + self.p.rim_radius * side + height * up

    def _act_one(self, ep: _Episode, s: np.ndarray, moved: str, target: str) -> np.ndarray:
        p = self.p
        if ep.yaw is None:
            self._plan_grasp(ep, s, moved, target)
        eef = s[self._index["eef_pos.x"] : self._index["eef_pos.x"] + 3]
        cur_rot = axis_angle_to_matrix(s[self._index["eef_axis_angle.x"] : self._index["eef_axis_angle.x"] + 3])
        obj, _ = self._pose(s, moved)
        tgt, _ = self._pose(s, target)
        grasp = self._grasp_point(ep, s, moved)
        carry_z = max(ep.start_z, tgt[2]) + p.carry_clearance
        gripper = OPEN
        goal = eef
        ep.t += 1
        if ep.phase == "approach":
            goal = grasp + np.array([0.0, 0.0, p.approach_height])
            # Rise first when below the approach height and far from the grasp point (do not sweep objects).
            if eef[2] < goal[2] - 0.02 and np.linalg.norm(eef[:2] - goal[:2]) > 0.02:
                goal = np.array([eef[0], eef[1], goal[2]])
            self._advance(ep, eef, goal, cur_rot, "descend", check_rot=True)
        elif ep.phase == "descend":
            goal = grasp
            ep.heights.append(float(eef[2]))
            stalled = len(ep.heights) > p.stall_steps and ep.heights[-p.stall_steps - 1] - eef[2] < 0.003
            if stalled and eef[2] - grasp[2] > 0.015 and ep.retries < p.max_retries:
                # Something the state does not show blocks this side; walls come in pairs (a drawer):
                # skip the opposite side too.
                ep.retries += 1
                if ep.tried:
                    ep.tried.append((ep.tried[-1] + 4) % len(SIDES))
                ep.yaw = None
                self._enter(ep, "approach")
            else:
                self._advance(ep, eef, goal, cur_rot, "close")
        elif ep.phase == "close":
            goal, gripper = grasp, CLOSE
            if ep.t >= p.close_steps:
                ep.hold = eef - obj
                self._enter(ep, "lift")
        elif ep.phase == "lift":
            gripper = CLOSE
            goal = np.array([eef[0], eef[1], carry_z + (ep.hold[2] if ep.hold is not None else 0.0)])
            if abs(goal[2] - eef[2]) < 0.02 or ep.t > p.phase_timeout:
                if obj[2] < ep.start_z + p.lift_check and ep.retries < p.max_retries:
                    # The object stayed behind (it slipped): grasp again, first on the same side a little
                    # deeper, then from another side.
                    ep.retries += 1
                    ep.deeper = not ep.deeper
                    if not ep.deeper:
                        ep.yaw = None
                    self._enter(ep, "approach")
                else:
                    self._enter(ep, "carry")
        elif ep.phase in ("carry", "lower") and self._dropped(ep, eef, obj):
            # The object left the hand (it slipped out): pick it up again where it lies.
            ep.retries += 1
            ep.hold, ep.deeper, ep.tried = None, False, []
            self._plan_grasp(ep, s, moved, target)
            self._enter(ep, "approach")
        elif ep.phase == "carry":
            gripper = CLOSE
            hold = eef - obj  # the object may have swung in the grasp: aim the object, not the hand
            goal = np.array([tgt[0] + hold[0], tgt[1] + hold[1], carry_z + hold[2]])
            if np.linalg.norm((obj - tgt)[:2]) < p.pos_tol or ep.t > p.phase_timeout:
                self._enter(ep, "lower")
        elif ep.phase == "lower":
            gripper = CLOSE
            hold = eef - obj
            goal = np.array([tgt[0] + hold[0], tgt[1] + hold[1], tgt[2] + p.place_height + hold[2]])
            if abs(obj[2] - (tgt[2] + p.place_height)) < p.pos_tol or ep.t > p.phase_timeout:
                self._enter(ep, "release")
        elif ep.phase == "release":
            goal = eef
            # Wait until the fingers are wide open: rising earlier can lift the bowl on a finger.
            opening = s[self._index["gripper_qpos.0"]] - s[self._index["gripper_qpos.1"]]
            if (ep.t >= p.release_steps and opening > p.open_width) or ep.t > 3 * p.release_steps:
                self._enter(ep, "retreat")
        else:  # retreat, then hold still
            goal = np.array([eef[0], eef[1], carry_z + 0.05])
            off_target = np.linalg.norm((obj - tgt)[:2]) > p.place_tol
            if ep.t > p.settle_steps and off_target and ep.retries < p.max_retries:
                # It came to rest beside the target (slid off, or rose with a finger): place it again.
                ep.retries += 1
                ep.hold, ep.deeper, ep.tried = None, False, []
                self._plan_grasp(ep, s, moved, target)
                self._enter(ep, "approach")
        return self._command(ep, eef, goal, cur_rot, gripper)

    def _dropped(self, ep: _Episode, eef: np.ndarray, obj: np.ndarray) -> bool:
        """Whether the object moved away from where it sat in the hand when the grasp closed."""
        return ep.hold is not None and float(np.linalg.norm(eef - obj - ep.hold)) > self.p.drop_distance

    def _enter(self, ep: _Episode, phase: str) -> None:
        ep.phase, ep.t = phase, 0
        ep.integral = np.zeros(3)
        ep.heights = []

    def _advance(
        self, ep: _Episode, eef: np.ndarray, goal: np.ndarray, cur_rot: np.ndarray, nxt: str, check_rot: bool = False
    ) -> None:
        close = np.linalg.norm(goal - eef) < self.p.pos_tol
        if check_rot:
            close = close and np.linalg.norm(matrix_to_rotvec(self._target_rot(ep) @ cur_rot.T)) < self.p.rot_tol
        if close or ep.t > self.p.phase_timeout:
            self._enter(ep, nxt)

    def _target_rot(self, ep: _Episode) -> np.ndarray:
        return rot_z(ep.yaw or 0.0) @ DOWN

    def _command(self, ep: _Episode, eef: np.ndarray, goal: np.ndarray, cur_rot: np.ndarray, grip: float) -> np.ndarray:
        p = self.p
        err = goal - eef
        if np.linalg.norm(err) < p.integral_zone:
            ep.integral = np.clip(ep.integral + err, -0.15, 0.15)
        else:
            ep.integral = np.zeros(3)
        move = np.clip(p.kp * err + p.ki * p.kp * ep.integral, -1.0, 1.0)
        turn = np.clip(p.kr * matrix_to_rotvec(self._target_rot(ep) @ cur_rot.T), -1.0, 1.0)
        return np.array([*move, *turn, grip])
