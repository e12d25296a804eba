"""Write small HDF5 files in LIBERO's layout (as LIBERO's create_dataset.py and the collector write them)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def write_libero_file(
    path: Path,
    lengths: tuple[int, ...] = (5, 3),
    task: str = "pick up the black bowl and place it on the plate",
    objects: tuple[str, ...] = ("akita_black_bowl_1", "plate_1"),
    image_size: int | None = 8,
    seed: int = 0,
) -> dict[str, list[np.ndarray]]:
    """A file with one demo per length; returns what it wrote, per demo."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[np.ndarray]] = {
        "actions": [],
        "ee_states": [],
        "gripper_states": [],
        "object": [],
        "agentview_rgb": [],
    }
    names = [
        f"{o}.{part}.{axis}" for o in objects for part, axes in (("pos", "xyz"), ("quat", "xyzw")) for axis in axes
    ]
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_name"] = "Libero_Tabletop_Manipulation"
        data.attrs["problem_info"] = json.dumps(
            {"problem_name": "libero_tabletop_manipulation", "domain_name": "robosuite", "language_instruction": task}
        )
        data.attrs["macros_image_convention"] = "opengl"
        data.attrs["env_args"] = json.dumps({"type": 1, "env_name": "Libero_Tabletop_Manipulation", "env_kwargs": {}})
        data.attrs["bddl_file_name"] = "task.bddl"
        data.attrs["num_demos"] = len(lengths)
        data.attrs["total"] = sum(lengths)
        for i, t in enumerate(lengths):
            demo = data.create_group(f"demo_{i}")
            actions = rng.uniform(-1, 1, (t, 7)).astype(np.float64)
            ee = rng.standard_normal((t, 6))
            grip = rng.uniform(0, 0.04, (t, 2))
            obj = rng.standard_normal((t, len(names)))
            demo.create_dataset("actions", data=actions)
            obs = demo.create_group("obs")
            obs.create_dataset("ee_states", data=ee)
            obs.create_dataset("ee_pos", data=ee[:, :3])
            obs.create_dataset("ee_ori", data=ee[:, 3:])
            obs.create_dataset("gripper_states", data=grip)
            obs.create_dataset("joint_states", data=rng.standard_normal((t, 7)))
            ds = obs.create_dataset("object", data=obj)
            ds.attrs["names"] = names
            written["actions"].append(actions)
            written["ee_states"].append(ee)
            written["gripper_states"].append(grip)
            written["object"].append(obj)
            if image_size:
                frames = rng.integers(0, 256, (t, image_size, image_size, 3), dtype=np.uint8)
                obs.create_dataset("agentview_rgb", data=frames)
                written["agentview_rgb"].append(frames)
            rewards = np.zeros(t, dtype=np.uint8)
            rewards[-1] = 1
            demo.create_dataset("rewards", data=rewards)
            demo.create_dataset("dones", data=rewards.copy())
            demo.create_dataset("states", data=rng.standard_normal((t, 40)))
            demo.attrs["num_samples"] = t
    return written
