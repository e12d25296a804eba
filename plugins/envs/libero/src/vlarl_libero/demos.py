"""Demonstrations in LIBERO's own HDF5 layout (the files users download for LIBERO).

The layout follows LIBERO's ``scripts/create_dataset.py`` (which turns collected demos into the released
datasets) and robomimic's dataset conventions; one file per task, named ``<task name>_demo.hdf5``:

* ``data`` attrs: env_name, problem_info (json), macros_image_convention, env_args (json), bddl_file_name,
  bddl_file_content, num_demos, total; plus vlarl_suite, vlarl_task_id, vlarl_task_description.
* ``data/demo_<i>``: actions [T, 7], states [T, D] (flattened MuJoCo states), robot_states [T, 9]
  (gripper qpos, eef pos, eef quat), rewards [T] and dones [T] (uint8, 1 on the last step only, as LIBERO
  writes them), and ``obs/``: gripper_states [T, 2], joint_states [T, 7], ee_states [T, 6] (eef pos +
  axis-angle), ee_pos [T, 3], ee_ori [T, 3], agentview_rgb / eye_in_hand_rgb [T, H, W, 3] uint8 as robosuite
  renders them (LIBERO's stored convention, not flipped upright; only for cameras that are on), and
  ``object`` [T, 7 * n_objects] (privileged object poses, robomimic's key) with a ``names`` attribute
  (its dim names, as in the env's state_names).
* demo attrs: num_samples, model_file (MJCF), init_state (= states[0]), init_state_id (suite init state).

obs[t] is the observation before actions[t] (robomimic's convention). LIBERO's create_dataset.py instead
pairs each action with the observation *after* it and drops the first 5 steps; we settle before recording.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlarl_libero.layout import object_state_names
from vlarl_libero.sim import quat_xyzw_to_axis_angle
from vlarl_libero.tasks import TaskInfo

# vlarl camera -> LIBERO dataset key.
IMAGE_KEYS: dict[str, str] = {"agentview": "agentview_rgb", "robot0_eye_in_hand": "eye_in_hand_rgb"}


def demo_file_name(task: TaskInfo) -> str:
    """LIBERO names a task's dataset after the task: ``<task name>_demo.hdf5``."""
    return f"{task.name}_demo.hdf5"


@dataclass
class Demo:
    """One episode being recorded: per step, the sim record and images before the action, and the action."""

    init_state_id: int
    records: list[dict[str, np.ndarray]] = field(default_factory=list)
    images: dict[str, list[np.ndarray]] = field(default_factory=dict)
    actions: list[np.ndarray] = field(default_factory=list)

    def add(self, record: dict[str, np.ndarray], obs_images: dict[str, np.ndarray], action: np.ndarray) -> None:
        """``obs_images``: vlarl observation images of this sub-env ((3, H, W), upright) by camera name."""
        self.records.append(record)
        for cam, img in obs_images.items():
            # Back to robosuite's render: CHW -> HWC, then undo the env's 180-degree flip (exact).
            self.images.setdefault(cam, []).append(np.ascontiguousarray(img.transpose(1, 2, 0)[::-1, ::-1]))
        self.actions.append(np.asarray(action, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.actions)


def env_args(task: TaskInfo, meta: dict[str, Any], cameras: tuple[str, ...], image_size: int) -> dict[str, Any]:
    """``env_args`` as LIBERO's create_dataset.py writes it (type 1 = robosuite env), for our settings."""
    kwargs = {
        "robots": ["Panda"],
        "controller_configs": meta["controller_config"],
        "bddl_file_name": task.bddl_file,
        "has_renderer": False,
        "has_offscreen_renderer": bool(cameras),
        "ignore_done": True,
        "use_camera_obs": bool(cameras),
        "camera_depths": False,
        "camera_names": list(cameras),
        "control_freq": 20,
        "camera_heights": image_size,
        "camera_widths": image_size,
        "camera_segmentations": None,
    }
    problem = task.problem_info.get("problem_name", "")
    return {
        "type": 1,
        "env_name": task.env_name,
        "problem_name": problem,
        "bddl_file": task.bddl_file,
        "env_kwargs": kwargs,
    }


class DemoFile:
    """Writes successful demos of one task into ``<out>/<task name>_demo.hdf5`` as they come."""

    def __init__(
        self,
        out_dir: Path,
        task: TaskInfo,
        *,
        suite: str,
        task_id: int,
        meta: dict[str, Any],
        cameras: tuple[str, ...],
        image_size: int,
        objects: tuple[str, ...] | None,
        model_xml: str,
    ) -> None:
        import h5py

        self.path = Path(out_dir) / demo_file_name(task)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cameras = cameras
        # Dim names of obs/object, as in the env's state_names ("<object>.pos.x", ..., "<object>.quat.w").
        self.object_dims = None if objects is None else list(object_state_names(objects))
        self.model_xml = model_xml
        self.num_demos = 0
        self.total = 0
        self._file = h5py.File(self.path, "w")
        data = self._file.create_group("data")
        data.attrs["env_name"] = task.env_name
        data.attrs["problem_info"] = json.dumps(task.problem_info)
        data.attrs["macros_image_convention"] = meta["image_convention"]
        data.attrs["env_args"] = json.dumps(env_args(task, meta, cameras, image_size))
        data.attrs["bddl_file_name"] = task.bddl_file
        data.attrs["bddl_file_content"] = Path(task.bddl_file).read_text(encoding="utf-8")
        data.attrs["vlarl_suite"] = suite
        data.attrs["vlarl_task_id"] = task_id
        data.attrs["vlarl_task_description"] = task.language
        self._data = data

    def write(self, demo: Demo) -> None:
        """Append one (successful) demo as ``demo_<num_demos>``."""
        n = len(demo)
        rec = {k: np.stack([r[k] for r in demo.records]) for k in demo.records[0]}
        grp = self._data.create_group(f"demo_{self.num_demos}")
        obs = grp.create_group("obs")
        ee_ori = np.stack([quat_xyzw_to_axis_angle(q) for q in rec["eef_quat"]])
        ee_states = np.concatenate([rec["eef_pos"], ee_ori], axis=1)
        obs.create_dataset("gripper_states", data=rec["gripper_qpos"])
        obs.create_dataset("joint_states", data=rec["joint_pos"])
        obs.create_dataset("ee_states", data=ee_states)
        obs.create_dataset("ee_pos", data=ee_states[:, :3])
        obs.create_dataset("ee_ori", data=ee_states[:, 3:])
        for cam in self.cameras:
            obs.create_dataset(IMAGE_KEYS[cam], data=np.stack(demo.images[cam]).astype(np.uint8))
        if self.object_dims is not None:
            obs.create_dataset("object", data=rec["object"]).attrs["names"] = self.object_dims
        marks = np.zeros(n, dtype=np.uint8)
        marks[-1] = 1  # LIBERO: reward 1 and done 1 on the last (successful) step only
        grp.create_dataset("actions", data=np.stack(demo.actions))
        grp.create_dataset("states", data=rec["sim_state"])
        grp.create_dataset(
            "robot_states", data=np.concatenate([rec["gripper_qpos"], rec["eef_pos"], rec["eef_quat"]], axis=1)
        )
        grp.create_dataset("rewards", data=marks)
        grp.create_dataset("dones", data=marks.copy())
        grp.attrs["num_samples"] = n
        grp.attrs["model_file"] = self.model_xml
        grp.attrs["init_state"] = rec["sim_state"][0]
        grp.attrs["init_state_id"] = demo.init_state_id
        self.num_demos += 1
        self.total += n
        self._data.attrs["num_demos"] = self.num_demos
        self._data.attrs["total"] = self.total
        self._file.flush()

    def close(self) -> None:
        self._data.attrs["num_demos"] = self.num_demos
        self._data.attrs["total"] = self.total
        self._file.close()
