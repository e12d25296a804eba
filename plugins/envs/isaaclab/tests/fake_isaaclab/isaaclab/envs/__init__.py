"""Fake of ``isaaclab.envs``: ``ManagerBasedRLEnv(cfg, render_mode=None)``, batched, resets inside ``step``.

``step(action[N, A]) -> (obs, reward[N], terminated[N], time_outs[N], extras)`` with
``obs = {"policy": {term: tensor}}``; terminated sub-envs are reset before the
observation is computed (as IsaacLab does), after ``recorder_manager.record_pre_reset``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import torch

from isaaclab import _log

_log.require_app("isaaclab.envs")

from isaaclab.managers import RecorderManager, TerminationManager  # noqa: E402


class ManagerBasedRLEnvCfg:
    def __init__(self) -> None:
        self.seed: int | None = None
        self.decimation = 5
        self.episode_length_s = 30.0
        self.sim = _SimCfg()
        self.scene = _SceneCfg()
        self.recorders: Any = None
        self.terminations: Any = None
        self.observations: Any = None
        self.__post_init__()

    def __post_init__(self) -> None:
        """Subclasses override settings here, as with the real ``@configclass`` cfgs."""


class _SimCfg:
    def __init__(self) -> None:
        self.dt = 0.01
        self.device = "cuda:0"
        self.render_interval = 2


class _SceneCfg:
    def __init__(self) -> None:
        self.num_envs = 4096
        self.env_spacing = 2.5


class _ObservationManager:
    def __init__(self, env: ManagerBasedRLEnv) -> None:
        self._env = env

    def compute_group(self, group_name: str, update_history: bool = False) -> dict[str, torch.Tensor]:
        if group_name != "policy":
            raise KeyError(group_name)
        return self._env._policy_obs()

    def compute(self, update_history: bool = False) -> dict[str, dict[str, torch.Tensor]]:
        return {"policy": self.compute_group("policy")}


class _Scene:
    def __init__(self, env: ManagerBasedRLEnv) -> None:
        self._env = env

    def get_state(self, is_relative: bool = False) -> dict[str, Any]:
        e = self._env
        return {
            "articulation": {
                "robot": {"eef_pos": e.eef_pos.clone(), "eef_quat": e.eef_quat.clone(), "gripper": e.gripper.clone()}
            },
            "rigid_object": {"goal": {"root_pos": e.goal.clone()}},
        }

    def reset_to(self, state: dict[str, Any], env_ids: torch.Tensor, is_relative: bool = False) -> None:
        e = self._env
        robot, goal = state["articulation"]["robot"], state["rigid_object"]["goal"]
        e.eef_pos[env_ids] = robot["eef_pos"][env_ids]
        e.eef_quat[env_ids] = robot["eef_quat"][env_ids]
        e.gripper[env_ids] = robot["gripper"][env_ids]
        e.goal[env_ids] = goal["root_pos"][env_ids]


def _quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
         aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], dim=-1)  # fmt: skip


def quat_from_axis_angle(v: torch.Tensor) -> torch.Tensor:
    """wxyz quaternion of rotation vectors [N, 3]."""
    angle = v.norm(dim=-1, keepdim=True)
    axis = v / angle.clamp_min(1e-12)
    return torch.cat([torch.cos(angle / 2), axis * torch.sin(angle / 2)], dim=-1)


class ManagerBasedRLEnv(gym.Env):
    is_vector_env = True
    metadata = {"render_modes": [None, "human", "rgb_array"]}

    def __init__(self, cfg: ManagerBasedRLEnvCfg, render_mode: str | None = None, **kwargs: Any) -> None:
        self.cfg = cfg
        self.render_mode = render_mode
        self.num_envs = cfg.scene.num_envs
        self.device = cfg.sim.device
        self.physics_dt = cfg.sim.dt
        self.step_dt = cfg.sim.dt * cfg.decimation
        if cfg.seed is not None:
            self.seed(cfg.seed)
        n, dev = self.num_envs, self.device
        self.episode_length_buf = torch.zeros(n, dtype=torch.long, device=dev)
        self.eef_pos = torch.zeros(n, 3, device=dev)
        self.eef_quat = torch.zeros(n, 4, device=dev)
        self.eef_quat[:, 0] = 1.0
        self.gripper = torch.full((n,), 0.04, device=dev)
        self.goal = torch.zeros(n, 3, device=dev)
        self.last_action = torch.zeros(n, 7, device=dev)
        self.extras: dict[str, Any] = {}
        self.scene = _Scene(self)
        self.observation_manager = _ObservationManager(self)
        self.termination_manager = TerminationManager(cfg.terminations, self)
        self.recorder_manager = RecorderManager(cfg.recorders, self)
        self.reward_buf = torch.zeros(n, device=dev)
        self._is_closed = False
        self._reset_idx(torch.arange(n, device=dev))
        _log.event(f"env.init num_envs={n} device={dev} " + " ".join(
            f"{c}={getattr(cfg.scene, c).height}x{getattr(cfg.scene, c).width}" for c in ("table_cam", "wrist_cam")
            if hasattr(cfg.scene, c)))  # fmt: skip

    @property
    def max_episode_length(self) -> int:
        return math.ceil(self.cfg.episode_length_s / self.step_dt)

    @staticmethod
    def seed(seed: int = -1) -> int:
        torch.manual_seed(seed)
        return seed

    # ------------------------------------------------------------------ MDP
    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        k = len(env_ids)
        self.extras["log"] = self.termination_manager.reset(env_ids)
        self.eef_pos[env_ids] = torch.tensor([0.5, 0.0, 0.3], device=self.device) + 0.1 * (
            torch.rand(k, 3, device=self.device) - 0.5
        )
        self.eef_quat[env_ids] = quat_from_axis_angle(0.3 * (torch.rand(k, 3, device=self.device) - 0.5))
        self.gripper[env_ids] = 0.04
        self.goal[env_ids] = self.eef_pos[env_ids] + 0.3 * (torch.rand(k, 3, device=self.device) - 0.5)
        self.last_action[env_ids] = 0.0
        self.episode_length_buf[env_ids] = 0

    def reset(self, seed: int | None = None, env_ids: torch.Tensor | None = None, options: dict | None = None):
        if env_ids is None:
            env_ids = torch.arange(self.num_envs, dtype=torch.long, device=self.device)
        self.recorder_manager.record_pre_reset(env_ids)
        if seed is not None:
            self.seed(seed)
        self._reset_idx(env_ids)
        self.recorder_manager.record_post_reset(env_ids)
        return self.observation_manager.compute(update_history=True), self.extras

    def reset_to(
        self, state: dict, env_ids: torch.Tensor | None, seed: int | None = None, is_relative: bool = False
    ) -> None:
        if env_ids is None:
            env_ids = torch.arange(self.num_envs, dtype=torch.long, device=self.device)
        self.recorder_manager.record_pre_reset(env_ids)
        if seed is not None:
            self.seed(seed)
        self._reset_idx(env_ids)
        self.scene.reset_to(state, env_ids, is_relative=is_relative)
        self.recorder_manager.record_post_reset(env_ids)

    def step(self, action: torch.Tensor):
        action = action.to(self.device)
        if action.shape != (self.num_envs, 7):
            raise ValueError(f"fake env: action shape {tuple(action.shape)} != {(self.num_envs, 7)}")
        self.last_action = action.clone()
        # relative IK pose (scale 0.5 like the Franka cfg, x0.1 m per unit here) + binary gripper
        self.eef_pos += 0.05 * action[:, :3]
        self.eef_quat = _quat_mul(self.eef_quat, quat_from_axis_angle(0.05 * action[:, 3:6]))
        self.gripper = torch.where(
            action[:, 6] < 0, torch.zeros_like(self.gripper), torch.full_like(self.gripper, 0.04)
        )
        self.episode_length_buf += 1
        reset_buf = self.termination_manager.compute()
        self.reward_buf = torch.zeros(self.num_envs, device=self.device)
        reset_ids = reset_buf.nonzero(as_tuple=False).squeeze(-1)
        if len(reset_ids) > 0:
            self.recorder_manager.record_pre_reset(reset_ids)
            self._reset_idx(reset_ids)
            self.recorder_manager.record_post_reset(reset_ids)
        obs = self.observation_manager.compute(update_history=True)
        tm = self.termination_manager
        return obs, self.reward_buf, tm.terminated.clone(), tm.time_outs.clone(), self.extras

    # ------------------------------------------------------------------ observations
    def _camera(self, name: str, key: torch.Tensor) -> torch.Tensor:
        cam = getattr(self.cfg.scene, name)
        h, w = cam.height, cam.width
        ys = torch.linspace(0, 1, h, device=self.device)[None, :, None]
        xs = torch.linspace(0, 1, w, device=self.device)[None, None, :]
        shape = (self.num_envs, h, w)
        r = ((key[:, 0, None, None] * 200 + 128 * ys) % 256).expand(shape)
        g = ((key[:, 1, None, None] * 200 + 128 * xs) % 256).expand(shape)
        b = ((key[:, 2, None, None] * 400 + 64 * (ys + xs)) % 256).expand(shape)
        return torch.stack([r, g, b], dim=-1).to(torch.uint8)  # [N, H, W, 3], upright

    def _policy_obs(self) -> dict[str, torch.Tensor]:
        obs = {
            "actions": self.last_action.clone(),
            "eef_pos": self.eef_pos.clone(),
            "eef_quat": self.eef_quat.clone(),
            "gripper_pos": torch.stack([self.gripper, self.gripper], dim=-1),
        }
        if hasattr(self.cfg.scene, "table_cam"):
            obs["table_cam"] = self._camera("table_cam", self.eef_pos - self.goal + 0.5)
        if hasattr(self.cfg.scene, "wrist_cam"):
            obs["wrist_cam"] = self._camera("wrist_cam", self.eef_pos)
        return obs

    def close(self) -> None:
        if not self._is_closed:
            self._is_closed = True
            _log.event("env.close")
