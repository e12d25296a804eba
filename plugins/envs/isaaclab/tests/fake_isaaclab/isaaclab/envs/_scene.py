"""Fake ``InteractiveScene`` state: ``get_state`` / ``reset_to`` with the real layout and row rules.

The real ``reset_to(state, env_ids, is_relative)`` writes ``state`` rows to ``env_ids`` one to one
(``root_pose[:, :3] += self.env_origins[env_ids]``, then ``write_root_pose_to_sim(root_pose, env_ids)``:
"Shape is (len(env_ids), 7)"), so a state must already be cut to those rows; so does the fake.
"""

from __future__ import annotations

from typing import Any

import torch

from isaaclab._version import GENERATION


def _identity(n: int, device: Any) -> torch.Tensor:
    quat = torch.zeros(n, 4, device=device)
    quat[:, 0] = 1.0
    return quat


class Scene:
    def __init__(self, env: Any, spacing: float) -> None:
        self._env = env
        n = env.num_envs
        cols = max(1, int(n**0.5))
        idx = torch.arange(n, device=env.device)
        self.env_origins = torch.stack(
            [spacing * (idx % cols).float(), spacing * (idx // cols).float(), torch.zeros(n, device=env.device)], -1
        )
        self._all = idx

    def get_state(self, is_relative: bool = False) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
        e, n = self._env, self._env.num_envs
        origins = torch.zeros_like(self.env_origins) if is_relative else self.env_origins
        joints = torch.cat([e.eef_pos, e.eef_quat, e.gripper[:, None], e.gripper[:, None]], dim=-1)
        return {
            "articulation": {
                "robot": {
                    "root_pose": torch.cat([origins, _identity(n, e.device)], -1),
                    "root_velocity": torch.zeros(n, 6, device=e.device),
                    "joint_position": joints.clone(),
                    "joint_velocity": torch.zeros_like(joints),
                }
            },
            **({"cable_object": {}} if GENERATION >= 3 else {}),
            "deformable_object": {},
            "rigid_object": {
                "goal": {
                    "root_pose": torch.cat([e.goal + origins, _identity(n, e.device)], -1),
                    "root_velocity": torch.zeros(n, 6, device=e.device),
                }
            },
            "gripper": {},
        }

    def reset_to(self, state: dict[str, Any], env_ids: Any = None, is_relative: bool = False) -> None:
        e = self._env
        ids = self._all if env_ids is None or isinstance(env_ids, slice) else torch.as_tensor(env_ids)
        robot = state["articulation"]["robot"]
        root_pose = robot["root_pose"].clone()
        if is_relative:
            root_pose[:, :3] += self.env_origins[ids]
        e.root_pose_w[ids] = root_pose  # write_root_pose_to_sim: one row per env id
        joints = robot["joint_position"].clone()
        e.eef_pos[ids], e.eef_quat[ids], e.gripper[ids] = joints[:, :3], joints[:, 3:7], joints[:, 7]
        goal_pose = state["rigid_object"]["goal"]["root_pose"].clone()
        if is_relative:
            goal_pose[:, :3] += self.env_origins[ids]
        e.goal[ids] = goal_pose[:, :3] - self.env_origins[ids]
