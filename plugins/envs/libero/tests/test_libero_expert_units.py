"""Fast tests of the scripted expert, its rotations, the HDF5 writer and the collect CLI (no simulator)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vlarl_libero.demos import Demo, DemoFile, demo_file_name
from vlarl_libero.expert import OPEN, ScriptedExpert, pick_place_pair
from vlarl_libero.layout import state_names
from vlarl_libero.rotations import axis_angle_to_matrix, matrix_to_rotvec, quat_xyzw_to_matrix
from vlarl_libero.tasks import TaskInfo

NAMES = state_names(("bowl_1", "plate_1"))
DESC = "put the bowl on the plate"


def test_rotations_round_trip_and_match_robosuite() -> None:
    from robosuite.utils.transform_utils import axisangle2quat, quat2mat

    rng = np.random.default_rng(0)
    for _ in range(20):
        aa = rng.normal(size=3)
        aa *= rng.uniform(0.1, 3.1) / np.linalg.norm(aa)
        m = axis_angle_to_matrix(aa)
        np.testing.assert_allclose(m, quat2mat(axisangle2quat(aa)), atol=1e-6)  # robosuite: float32
        np.testing.assert_allclose(quat_xyzw_to_matrix(axisangle2quat(aa)), m, atol=1e-6)
        np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_rotvec(m)), m, atol=1e-6)
    down = np.diag([1.0, -1.0, -1.0])  # a half turn: the axis comes from the symmetric part
    np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_rotvec(down)), down, atol=1e-6)


def test_goal_predicates_give_the_object_and_its_target() -> None:
    objects = ["akita_black_bowl_1", "plate_1", "basket_1", "milk_1"]
    assert pick_place_pair([("on", "akita_black_bowl_1", "plate_1")], objects) == ("akita_black_bowl_1", "plate_1")
    assert pick_place_pair([("In", "milk_1", "basket_1_contain_region")], objects) == ("milk_1", "basket_1")
    with pytest.raises(ValueError, match="scripted expert handles"):
        pick_place_pair([("open", "wooden_cabinet_1_top_region")], objects)


def test_expert_needs_privileged_state() -> None:
    with pytest.raises(ValueError, match="privileged_state"):
        ScriptedExpert(state_names(()), {DESC: [("on", "bowl_1", "plate_1")]}, 1)


def test_expert_refuses_a_task_it_cannot_do_when_it_runs_it() -> None:
    expert = ScriptedExpert(NAMES, {DESC: [("on", "bowl_1", "plate_1")], "open it": [("open", "drawer_1")]}, 1)
    s = state([0.0, 0.0, 1.0], [0.0, 0.2, 0.9], [0.1, -0.1, 0.9])[None]
    assert expert.act({"states": s, "task_descriptions": [DESC]}).shape == (1, 7)
    with pytest.raises(ValueError, match="handles \\(On A B\\)"):
        expert.act({"states": s, "task_descriptions": ["open it"]})
    with pytest.raises(ValueError, match="No goal is known"):
        expert.act({"states": s, "task_descriptions": ["something else"]})


def state(eef: list[float], bowl: list[float], plate: list[float], gripper: float = 0.04) -> np.ndarray:
    # Gripper pointing down (axis-angle pi about x), upright objects.
    return np.array([*eef, np.pi, 0, 0, gripper, -gripper, *bowl, 0, 0, 0, 1, *plate, 0, 0, 0, 1], dtype=np.float32)


def test_expert_heads_above_the_bowl_then_descends_and_closes_per_sub_env() -> None:
    expert = ScriptedExpert(NAMES, {DESC: [("on", "bowl_1", "plate_1")]}, 2)
    far = state([-0.2, 0.0, 1.17], [0.0, 0.2, 0.9], [0.1, -0.1, 0.9])
    obs = {"states": np.stack([far, far]), "task_descriptions": [DESC, DESC]}
    actions = expert.act(obs)
    assert actions.shape == (2, 7) and actions.dtype == np.float32
    assert actions[0, 0] > 0.5 and actions[0, 1] > 0.5 and (actions[:, 6] == OPEN).all()  # towards +x, +y
    # Sub-env 1 sits exactly above its grasp point (the rim, 4.5 cm from the bowl's centre): it descends.
    grasp = expert._grasp_point(expert._eps[1], far, "bowl_1")
    above = state([*(grasp[:2]), grasp[2] + 0.10], [0.0, 0.2, 0.9], [0.1, -0.1, 0.9])
    assert np.linalg.norm(grasp[:2] - [0.0, 0.2]) == pytest.approx(0.045, abs=1e-6)
    obs = {"states": np.stack([far, above]), "task_descriptions": [DESC, DESC]}
    expert.act(obs)
    assert expert._eps[1].phase == "descend" and expert._eps[0].phase == "approach"
    at = state(list(grasp), [0.0, 0.2, 0.9], [0.1, -0.1, 0.9])
    down = expert.act({"states": np.stack([far, at + 0]), "task_descriptions": [DESC, DESC]})
    assert expert._eps[1].phase == "close"
    assert expert.act({"states": np.stack([far, at]), "task_descriptions": [DESC, DESC]})[1, 6] == 1.0
    assert down.shape == (2, 7)
    expert.reset([1])
    assert expert._eps[1].phase == "approach" and expert._eps[0].phase == "approach"


TASK = TaskInfo(
    name="put_the_bowl_on_the_plate",
    language=DESC,
    num_states=50,
    bddl_file="",
    problem_info={
        "problem_name": "libero_tabletop_manipulation",
        "domain_name": "robosuite",
        "language_instruction": DESC,
    },
    env_name="Libero_Tabletop_Manipulation",
    objects=("bowl_1", "plate_1"),
    goal=(("on", "bowl_1", "plate_1"),),
)


def test_demo_file_layout_and_image_convention(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    bddl = tmp_path / "task.bddl"
    bddl.write_text("(define (problem LIBERO_Tabletop_Manipulation))")
    task = TaskInfo(**{**TASK.__dict__, "bddl_file": str(bddl)})
    meta = {"image_convention": "opengl", "controller_config": {"type": "OSC_POSE"}, "robosuite_version": "1.4.0"}
    writer = DemoFile(
        tmp_path, task, suite="libero_x", task_id=3, meta=meta, cameras=("agentview",), image_size=4,
        objects=("bowl_1", "plate_1"), model_xml="<mujoco/>",
    )  # fmt: skip
    demo = Demo(init_state_id=7)
    rng = np.random.default_rng(0)
    for t in range(3):
        record = {
            "sim_state": np.full(5, float(t)), "joint_pos": np.zeros(7), "eef_pos": np.array([t, 0.0, 1.0]),
            "eef_quat": np.array([1.0, 0, 0, 0]), "gripper_qpos": np.array([0.04, -0.04]), "object": np.zeros(14),
        }  # fmt: skip
        upright = rng.integers(0, 255, (3, 4, 4), dtype=np.uint8)
        demo.add(record, {"agentview": upright}, np.full(7, t, dtype=np.float32))
    writer.write(demo)
    writer.close()
    assert writer.path == tmp_path / demo_file_name(task) == tmp_path / "put_the_bowl_on_the_plate_demo.hdf5"
    with h5py.File(writer.path, "r") as f:
        data = f["data"]
        assert (data.attrs["num_demos"], data.attrs["total"]) == (1, 3)
        assert data.attrs["bddl_file_content"].startswith("(define")
        args = json.loads(data.attrs["env_args"])
        assert args["type"] == 1 and args["env_kwargs"]["camera_names"] == ["agentview"]
        d = data["demo_0"]
        assert d["actions"].dtype == np.float64 and d["actions"][2, 0] == 2.0
        np.testing.assert_array_equal(d["states"][:, 0], [0, 1, 2])
        assert d["obs/agentview_rgb"].shape == (3, 4, 4, 3) and d["obs/agentview_rgb"].dtype == np.uint8
        assert "eye_in_hand_rgb" not in d["obs"]
        # Stored as robosuite renders it: the env's upright CHW frame, back to HWC and rotated by 180 degrees.
        np.testing.assert_array_equal(d["obs/agentview_rgb"][2], upright.transpose(1, 2, 0)[::-1, ::-1])
        np.testing.assert_allclose(d["obs/ee_states"][1], [1, 0, 1, np.pi, 0, 0], atol=1e-9)
        np.testing.assert_allclose(d["robot_states"][0], [0.04, -0.04, 0, 0, 1, 1, 0, 0, 0])
        assert list(d["obs/object"].attrs["names"])[:2] == ["bowl_1.pos.x", "bowl_1.pos.y"]
        assert d.attrs["init_state_id"] == 7 and d.attrs["num_samples"] == 3 and d.attrs["model_file"] == "<mujoco/>"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--task-ids", "12", "--demos-per-task", "1", "--out", "x"], "do not exist in libero_spatial"),
        (["--demos-per-task", "0", "--out", "x"], "at least 1"),
        (["--cameras", "frontview", "--demos-per-task", "1", "--out", "x"], "unknown camera"),
        (["--suite", "libero_100", "--demos-per-task", "1", "--out", "x"], "invalid choice"),
    ],
)
def test_collect_rejects_bad_arguments_without_a_traceback(argv: list[str], match: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "vlarl_libero.collect", *argv], capture_output=True, text=True)
    assert proc.returncode == 2 and match in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
