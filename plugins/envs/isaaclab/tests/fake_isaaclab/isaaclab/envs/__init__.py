"""Fake of ``isaaclab.envs``: ``ManagerBasedRLEnv(cfg, render_mode=None)``, batched, resets inside ``step``.

``step(action[N, A]) -> (obs, reward[N], terminated[N], time_outs[N], extras)`` with
``obs = {"policy": {term: tensor}}``; terminated sub-envs are reset before the observation is computed
(as IsaacLab does), after ``recorder_manager.record_pre_reset`` and, on 3.0 with ``cfg.compute_final_obs``,
after ``extras["final_obs"] = observation_manager.compute()``. ``reset`` / ``reset_to`` return
``(obs, extras)``; ``reset`` takes ``(seed, env_ids, options)`` on 2.3 and ``(env_ids, *, seed, options)`` on
3.0. Observation terms as the stack task's: ``eef_quat`` is wxyz on 2.3 and xyzw on 3.0, ``gripper_pos`` is
``(j1, -j2)`` (``mdp/observations.py``), images uint8 [N, H, W, 3].
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import torch

from isaaclab import _log
from isaaclab._version import GENERATION

_log.require_app("isaaclab.envs")

from isaaclab.envs._scene import Scene  # noqa: E402
from isaaclab.managers import RecorderManager, RecorderManagerBaseCfg, TerminationManager  # noqa: E402


class ManagerBasedRLEnvCfg:
    def __init__(self) -> None:
        self.seed: int | None = None
        self.decimation = 5
        self.episode_length_s = 30.0
        self.sim = _SimCfg()
        self.scene = _SceneCfg()
        self.recorders: Any = RecorderManagerBaseCfg()  # the real default (DefaultEmptyRecorderManagerCfg)
        self.terminations: Any = None
        self.observations: Any = None
        if GENERATION >= 3:
            self.compute_final_obs = False
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


def _quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
         aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], dim=-1)  # fmt: skip


def quat_from_axis_angle(v: torch.Tensor) -> torch.Tensor:
    """wxyz quaternion of rotation vectors [N, 3] (the fake's internal order)."""
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
        self.root_pose_w = torch.zeros(n, 7, device=dev)
        self.last_action = torch.zeros(n, 7, device=dev)
        self.extras: dict[str, Any] = {}
        self.scene = Scene(self, cfg.scene.env_spacing)
        self.observation_manager = _ObservationManager(self)
        self.termination_manager = TerminationManager(cfg.terminations, self)
        self.recorder_manager = RecorderManager(cfg.recorders, self)
        self.reward_buf = torch.zeros(n, device=dev)
        self._is_closed = False
        self._reset_idx(torch.arange(n, device=dev))
        cams = " ".join(
            f"{c}={getattr(cfg.scene, c).height}x{getattr(cfg.scene, c).width}"
            for c in ("table_cam", "wrist_cam")
            if hasattr(cfg.scene, c)
        )
        _log.event(f"env.init num_envs={n} device={dev} {cams} decimation={cfg.decimation}")

    @property
    def max_episode_length(self) -> int:
        return math.ceil(self.cfg.episode_length_s / self.step_dt)

    @staticmethod
    def seed(seed: int = -1) -> int:
        torch.manual_seed(seed)
        return seed

    # ------------------------------------------------------------------ MDP
    def _ids(self, env_ids: Any) -> torch.Tensor:
        if env_ids is None or isinstance(env_ids, slice):
            return torch.arange(self.num_envs, dtype=torch.long, device=self.device)[env_ids or slice(None)]
        return torch.as_tensor(env_ids, dtype=torch.long, device=self.device)

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

    def _reset(self, seed: int | None, env_ids: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        ids = self._ids(env_ids)
        self.recorder_manager.record_pre_reset(ids)
        if seed is not None:
            self.seed(seed)
        self._reset_idx(ids)
        self.recorder_manager.record_post_reset(ids)
        return self.observation_manager.compute(update_history=True), self.extras

    if GENERATION >= 3:

        def reset(
            self, env_ids: Any = slice(None), *, seed: int | None = None, options: dict | None = None
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            return self._reset(seed, env_ids)

    else:

        def reset(  # type: ignore[misc]
            self, seed: int | None = None, env_ids: Any = None, options: dict | None = None
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            return self._reset(seed, env_ids)

    if GENERATION >= 3:

        def reset_to(
            self, state: dict, env_ids: Any = slice(None), seed: int | None = None, is_relative: bool = False
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            return self._reset_to(state, env_ids, seed, is_relative)

    else:

        def reset_to(  # type: ignore[misc]
            self, state: dict, env_ids: Any, seed: int | None = None, is_relative: bool = False
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            return self._reset_to(state, env_ids, seed, is_relative)

    def _reset_to(
        self, state: dict, env_ids: Any, seed: int | None, is_relative: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        ids = self._ids(env_ids)
        self.recorder_manager.record_pre_reset(ids)
        if seed is not None:
            self.seed(seed)
        self._reset_idx(ids)
        self.scene.reset_to(state, ids, is_relative=is_relative)
        self.recorder_manager.record_post_reset(ids)
        return self.observation_manager.compute(update_history=True), self.extras

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
            if getattr(self.cfg, "compute_final_obs", False):
                self.extras["final_obs"] = self.observation_manager.compute()
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
        quat = self.eef_quat[:, [1, 2, 3, 0]] if GENERATION >= 3 else self.eef_quat  # 3.0: xyzw
        obs = {
            "actions": self.last_action.clone(),
            "eef_pos": self.eef_pos.clone(),
            "eef_quat": quat.clone(),
            "gripper_pos": torch.stack([self.gripper, -self.gripper], dim=-1),  # (j1, -j2)
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
