"""Fast tests of the LIBERO plugin that start no simulator."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from vlarl.errors import ConfigError, VlarlError
from vlarl_libero import gl
from vlarl_libero.env import ACTION_SPEC, LiberoEnv, description_map, shape_rewards, split_envs
from vlarl_libero.layout import ROBOT_STATE_NAMES, ObjectReadError, object_union, state_names
from vlarl_libero.register import SUITES, LiberoConfig
from vlarl_libero.schedule import ResetSchedule
from vlarl_libero.sim import convert_obs, object_poses, quat_xyzw_to_axis_angle

BOTH = ("agentview", "robot0_eye_in_hand")


def test_register_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, json, vlarl_libero.register as r; r.vlarl_register();"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'libero', 'mujoco', 'robosuite', 'vlarl_libero') )))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == ["vlarl_libero", "vlarl_libero.register"], loaded


def test_plugin_is_registered_with_config_and_requirements() -> None:
    from vlarl.plugins.registry import get_registry

    provided = get_registry(refresh=True).get("env", "libero")
    assert provided.spec.config is LiberoConfig
    assert provided.spec.factory == "vlarl_libero.env:make"
    assert {r.name for r in provided.spec.requirements} >= {"libero", "mujoco", "robosuite"}


def test_unknown_suite_lists_the_suites() -> None:
    with pytest.raises(ConfigError) as err:
        LiberoEnv(LiberoConfig(suite="libero_spacial"))
    for name in SUITES:
        assert name in str(err.value)


@pytest.mark.parametrize(("suite", "bad"), [("libero_spatial", 10), ("libero_90", 90), ("libero_goal", -1)])
def test_bad_task_id_names_the_valid_range(suite: str, bad: int) -> None:
    with pytest.raises(ConfigError, match=rf"0\.\.{SUITES[suite][0] - 1}"):
        LiberoEnv(LiberoConfig(suite=suite, task_ids=[0, bad]))


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"reward_type": "dense"}, "reward_type"),
        ({"num_workers": 3}, "num_workers"),
        ({"num_envs": 0}, "num_envs"),
        ({"fast_render": True, "hard_reset": True}, "hard_reset"),
        ({"cameras": ["frontview"]}, "frontview"),
        ({"cameras": ["agentview", "agentview"]}, "repeats"),
        ({"reward_type": "shaped"}, "privileged_state=true"),
        ({"shaping_reach": "rim"}, "shaping_reach='rim'"),
        ({"shaping_reach_weight": 0.6}, r"shaping_reach_weight=0.6 must be in \[0, 0.5\)"),
    ],
)
def test_bad_config_values(override: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LiberoEnv(LiberoConfig(num_envs=override.pop("num_envs", 2), **override))


def test_fork_start_method_is_refused() -> None:
    with pytest.raises(ConfigError, match="spawn"):  # refused before any worker starts
        LiberoEnv(LiberoConfig(num_envs=1, start_method="fork"))


def test_split_envs() -> None:
    assert split_envs(4, 1, 0) == [1, 1, 1, 1]
    assert split_envs(5, 2, 0) == [2, 2, 1]
    assert split_envs(5, 1, 2) == [3, 2]


def test_suite_step_limits() -> None:
    limits = {k: v[1] for k, v in SUITES.items()}
    assert limits == {
        "libero_spatial": 280,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
        "libero_90": 400,
    }


def test_action_spec_declares_libero_gripper_sign() -> None:
    assert ACTION_SPEC.dim == 7 and ACTION_SPEC.gripper == "close_positive"
    assert ACTION_SPEC.gripper_indices == [6]
    # A policy trained with +1 = open is converted to LIBERO's sign by the host.
    opened = ACTION_SPEC.convert_gripper(np.array([[0.1, 0, 0, 0, 0, 0, 1.0]]), "open_positive")
    assert opened[0, 6] == -1.0 and opened[0, 0] == pytest.approx(0.1)


def test_rewards_sparse_pulse_penalty() -> None:
    success = np.array([True, True, False])
    before = np.array([False, True, False])
    sparse = shape_rewards(success, before, LiberoConfig())
    assert sparse.tolist() == [1.0, 1.0, 0.0] and sparse.dtype == np.float32
    pulse = shape_rewards(success, before, LiberoConfig(reward_type="pulse", reward_scale=2.0, step_penalty=0.01))
    np.testing.assert_allclose(pulse, [1.99, -0.01, -0.01], rtol=1e-6)


def test_convert_obs_flips_images_and_builds_8_dim_state() -> None:
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    raw = {
        "agentview_image": img,
        "robot0_eye_in_hand_image": img + 1,
        "robot0_eef_pos": np.array([0.1, 0.2, 0.3]),
        "robot0_eef_quat": np.array([0.0, 0.0, np.sin(0.25), np.cos(0.25)]),  # 0.5 rad about z
        "robot0_gripper_qpos": np.array([0.04, -0.04]),
    }
    out = convert_obs(raw, BOTH)
    assert out["images"].shape == (3, 4, 5) and out["images"].dtype == np.uint8
    # Rotated by 180 degrees: the top-left pixel of the output is the bottom-right of the render.
    assert (out["images"][:, 0, 0] == img[-1, -1]).all() and (out["images"][:, -1, -1] == img[0, 0]).all()
    assert (out["wrist_images"][:, 0, 0] == img[-1, -1] + 1).all()
    np.testing.assert_allclose(out["states"], [0.1, 0.2, 0.3, 0, 0, 0.5, 0.04, -0.04], atol=1e-6)
    assert out["states"].dtype == np.float32
    assert set(convert_obs(raw, ("agentview",))) == {"images", "states"}
    assert set(convert_obs(raw, ("robot0_eye_in_hand",))) == {"wrist_images", "states"}
    assert set(convert_obs(raw, ())) == {"states"}


def test_privileged_state_appends_object_poses_with_zeros_for_absent_objects() -> None:
    raw = {
        "robot0_eef_pos": np.zeros(3),
        "robot0_eef_quat": np.array([1.0, 0, 0, 0]),
        "robot0_gripper_qpos": np.zeros(2),
        "bowl_1_pos": np.array([0.1, 0.2, 0.9]),
        "bowl_1_quat": np.array([0.0, 0.0, 0.0, 1.0]),
    }
    layout = ("bowl_1", "plate_1")  # plate_1 belongs to another selected task
    poses = object_poses(raw, layout, present=("bowl_1",), where="libero_x task 3")
    np.testing.assert_allclose(poses, [0.1, 0.2, 0.9, 0, 0, 0, 1] + [0] * 7)
    states = convert_obs(raw, (), poses)["states"]
    assert states.shape == (8 + 14,) and states.dtype == np.float32
    with pytest.raises(ObjectReadError, match=r"'plate_1' of libero_x task 3"):
        object_poses(raw, layout, present=("bowl_1", "plate_1"), where="libero_x task 3")


def test_state_layout_is_the_sorted_union_of_the_selected_tasks() -> None:
    objects = {0: ["plate_1", "bowl_1"], 1: ["bowl_1", "cup_1"], 2: ["mug_1"]}
    assert object_union(objects, [0, 1], "libero_x") == ("bowl_1", "cup_1", "plate_1")
    names = state_names(("bowl_1",))
    assert (
        names[:8]
        == ROBOT_STATE_NAMES
        == (
            "eef_pos.x",
            "eef_pos.y",
            "eef_pos.z",
            "eef_axis_angle.x",
            "eef_axis_angle.y",
            "eef_axis_angle.z",
            "gripper_qpos.0",
            "gripper_qpos.1",
        )
    )
    assert names[8:] == (
        "bowl_1.pos.x",
        "bowl_1.pos.y",
        "bowl_1.pos.z",
        "bowl_1.quat.x",
        "bowl_1.quat.y",
        "bowl_1.quat.z",
        "bowl_1.quat.w",
    )
    with pytest.raises(ConfigError, match="libero_x task 3"):
        object_union({**objects, 3: []}, [0, 3], "libero_x")


def test_description_map_leaves_out_shared_descriptions() -> None:
    assert description_map({0: "a", 1: "b", 2: "a"}) == {"b": 1}


def test_axis_angle_matches_robosuite() -> None:
    from robosuite.utils.transform_utils import quat2axisangle

    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        np.testing.assert_allclose(quat_xyzw_to_axis_angle(q), quat2axisangle(q.copy()), atol=1e-6)


def test_schedule_advances_without_repetition() -> None:
    sched = ResetSchedule([0, 1], {0: 3, 1: 2}, order_seed=0, shuffle=True)
    assert sched.pairs == [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
    sched.set_groups(None, 2)
    first = [sched.assign(i % 2, None) for i in range(5)]
    assert sorted(first) == list(range(5))  # every pair once before any repeats
    assert sorted(sched.assign(0, None) for _ in range(5)) == list(range(5))
    assert sched.assign(1, 7) == 7 % 5  # a seed picks a fixed pair


def test_schedule_groups_share_states_across_episodes() -> None:
    sched = ResetSchedule([0], {0: 50}, order_seed=1, shuffle=True)
    sched.set_groups([0, 0, 1, 1], 4)
    start = [sched.assign(i, None) for i in range(4)]
    assert start[0] == start[1] and start[2] == start[3] and start[0] != start[2]
    # Member 0 finishes two episodes before member 1 finishes one: each episode k still shared.
    a1, a2 = sched.assign(0, None), sched.assign(0, None)
    b1 = sched.assign(1, None)
    assert b1 == a1 and a2 != a1
    assert sched.assign(1, None) == a2


def test_schedule_never_repeats_the_state_just_played() -> None:
    for seed in range(20):
        sched = ResetSchedule([0], {0: 3}, order_seed=seed, shuffle=True)
        sched.set_groups([0, 0], 2)
        played = [sched.assign(0, 1)] + [sched.assign(0, None) for _ in range(6)]
        assert all(a != b for a, b in itertools.pairwise(played)), played
        sched.set_groups(None, 1)
        played = [sched.assign(0, 2)] + [sched.assign(0, None) for _ in range(6)]
        assert all(a != b for a, b in itertools.pairwise(played)), played


def test_no_render_backend_error_names_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(gl, "probe", lambda backend: f"cannot load lib for {backend}")
    with pytest.raises(VlarlError) as err:
        gl.pick_backend("auto")
    text = str(err.value)
    assert "libegl1" in text and "libosmesa6" in text and "egl:" in text and "osmesa:" in text
    with pytest.raises(ConfigError, match="auto, egl, osmesa"):
        gl.pick_backend("glx")


def test_backend_picked_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(gl, "probe", lambda backend: None if backend == "osmesa" else "no EGL")
    assert gl.pick_backend("auto") == "osmesa"
    monkeypatch.setattr(gl, "probe", lambda backend: None)
    assert gl.pick_backend("auto") == "egl"
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    assert gl.pick_backend("auto") == "osmesa"


def test_a_worker_config_error_is_a_config_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ConfigError raised inside a worker (an unreadable object) reaches the host as one: no restart."""
    from vlarl.envs.pool import ProcessWorker, WorkerSpec

    worker = ProcessWorker(
        0, WorkerSpec("vlarl_libero.worker:LiberoWorker", {"n_local": 1, "opts": {}, "config_dir": None})
    )

    class Channel:
        decoder = type("D", (), {"inline_large": 0})()
        sock = None

        def recv(self, timeout: float) -> dict:
            return {"error": "vlarl_error", "kind": "ConfigError", "problem": "object 'plate_1' of libero_x task 3 "
                    "cannot be read.", "fix": "Turn it off."}  # fmt: skip

    worker.channel = Channel()  # type: ignore[assignment]
    worker.process = type("P", (), {"poll": lambda self: None})()  # type: ignore[assignment]
    monkeypatch.setattr("vlarl.envs.pool.select.select", lambda r, w, x, t: (r, [], []))  # the reply is there
    with pytest.raises(ConfigError, match="libero_x task 3"):
        worker.recv(1.0)
