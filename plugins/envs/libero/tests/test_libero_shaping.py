"""reward_type=shaped: the pick-and-place potential on hand-made states (no simulator)."""

from __future__ import annotations

import numpy as np
import pytest

from vlarl.errors import ConfigError
from vlarl_libero.env import shaping_potential
from vlarl_libero.layout import state_names
from vlarl_libero.register import LiberoConfig
from vlarl_libero.shaping import PickPlacePotential, ShapingParams
from vlarl_libero.tasks import TaskInfo

NAMES = state_names(("bowl_1", "plate_1"))
PAIRS = {0: ("bowl_1", "plate_1")}
TABLE_Z = 0.90


def states(eef: tuple[float, float, float], bowl: tuple[float, float, float], plate=(0.1, 0.2, TABLE_Z)) -> np.ndarray:
    s = np.zeros(len(NAMES), dtype=np.float32)
    for prefix, xyz in (("eef_pos", eef), ("bowl_1.pos", bowl), ("plate_1.pos", plate)):
        for axis, v in zip("xyz", xyz):
            s[NAMES.index(f"{prefix}.{axis}")] = v
    return s[None]


def phi(potential: PickPlacePotential, s: np.ndarray, success: bool = False) -> float:
    return float(potential(s, [0], np.array([TABLE_Z]), np.array([success]))[0])


def test_potential_rises_through_the_stages_of_a_pick_and_place() -> None:
    pot = PickPlacePotential(NAMES, PAIRS)
    far = phi(pot, states((-0.2, 0.0, 1.1), (-0.05, 0.2, TABLE_Z)))
    above = phi(pot, states((-0.05, 0.2, 0.96), (-0.05, 0.2, TABLE_Z)))  # hovering over the bowl
    lifted = phi(pot, states((-0.05, 0.2, 1.0), (-0.05, 0.2, TABLE_Z + 0.05)))  # held, 15 cm from the plate
    over_plate = phi(pot, states((0.1, 0.2, 1.0), (0.1, 0.2, TABLE_Z + 0.05)))
    solved = phi(pot, states((0.1, 0.2, 1.0), (0.1, 0.2, TABLE_Z + 0.01)), success=True)
    assert 0 <= far < above < 0.1 < 0.5 < lifted < over_plate < 1.0 == solved
    assert over_plate == pytest.approx(0.8, abs=1e-6)  # held_base + place_weight at zero distance


def test_an_object_pushed_or_raised_out_of_reach_is_not_held() -> None:
    pot = PickPlacePotential(NAMES, PAIRS)
    pushed = phi(pot, states((0.1, 0.2, 0.93), (0.1, 0.2, TABLE_Z)))  # on the target's xy but never lifted
    thrown = phi(pot, states((-0.3, 0.0, 1.1), (0.1, 0.2, TABLE_Z + 0.05)))  # up, but the hand is 40 cm away
    assert pushed < ShapingParams().reach_weight and thrown < ShapingParams().reach_weight


def test_potential_handles_sub_envs_of_different_tasks() -> None:
    names = state_names(("bowl_1", "cup_1", "plate_1"))
    pot = PickPlacePotential(names, {0: ("bowl_1", "plate_1"), 3: ("cup_1", "plate_1")})
    s = np.zeros((2, len(names)), dtype=np.float32)
    s[:, names.index("eef_pos.z")] = 1.0
    s[:, names.index("bowl_1.pos.z")] = 1.0  # the bowl is up at the hand in both sub-envs; the cup is not
    start = np.zeros(2)
    out = pot(s, [0, 3], start, np.zeros(2, dtype=bool))
    assert out[0] >= ShapingParams().held_base > out[1]
    np.testing.assert_allclose(pot.object_heights(s, [0, 3]), [1.0, 0.0])


def test_grasp_aimed_reach_pays_for_the_descent_to_the_rim() -> None:
    bowl = (-0.05, 0.2, TABLE_Z)
    hover = states((-0.05, 0.2, TABLE_Z + 0.055), bowl)  # 5.5 cm over the origin: the stalled hand
    rim = states((-0.05 + 0.045, 0.2, TABLE_Z + 0.035), bowl)  # the expert's rim grasp point, +x side
    rim_other_side = states((-0.05, 0.2 - 0.045, TABLE_Z + 0.035), bowl)
    origin = PickPlacePotential(NAMES, PAIRS)
    grasp = PickPlacePotential(NAMES, PAIRS, ShapingParams(reach_to="grasp"))
    # Measured to the origin, hovering is as good as the rim (both about 5.6 cm away); to the grasp, the rim wins.
    assert phi(origin, hover) == pytest.approx(phi(origin, rim), abs=0.003)
    assert phi(grasp, rim) == pytest.approx(ShapingParams().reach_weight, abs=1e-6)
    assert phi(grasp, rim_other_side) == pytest.approx(phi(grasp, rim), abs=1e-6)  # any side of the ring
    assert phi(grasp, hover) < phi(grasp, rim) - 0.04
    # Held up does not depend on the reach measure.
    lifted = states((-0.05 + 0.045, 0.2, 1.0), (-0.05, 0.2, TABLE_Z + 0.05))
    assert phi(grasp, lifted) == pytest.approx(phi(origin, lifted))


def test_a_non_bowl_is_reached_above_its_centre() -> None:
    names = state_names(("cup_1", "plate_1"))
    pot = PickPlacePotential(names, {0: ("cup_1", "plate_1")}, ShapingParams(reach_to="grasp"))
    s = np.zeros((1, len(names)), dtype=np.float32)
    s[0, names.index("eef_pos.z")] = 0.02  # centre_height over the cup's origin (at 0)
    out = pot(s, [0], np.zeros(1), np.zeros(1, dtype=bool))
    assert out[0] == pytest.approx(ShapingParams().reach_weight, abs=1e-6)


def test_unknown_reach_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="reach_to='rim'"):
        ShapingParams(reach_to="rim")


def test_states_without_object_poses_are_refused() -> None:
    with pytest.raises(KeyError, match="privileged_state"):
        PickPlacePotential(state_names(()), PAIRS)


def task(goal: tuple[tuple[str, ...], ...], objects: tuple[str, ...]) -> TaskInfo:
    return TaskInfo("t", "open the top drawer", 50, "t.bddl", {}, "Libero_Kitchen", objects, goal)


def test_a_task_without_a_pick_and_place_goal_is_named() -> None:
    cfg = LiberoConfig(suite="libero_goal", privileged_state=True, reward_type="shaped")
    tasks = {4: task((("open", "wooden_cabinet_1_top_region"),), ("bowl_1",))}
    with pytest.raises(ConfigError, match=r"libero_goal task 4 \('open the top drawer'\)") as err:
        shaping_potential(cfg, tasks, state_names(("bowl_1",)))
    assert "reward_type=sparse" in err.value.fix
