"""BEHAVIOR-1K on the R1 Pro as a chunked vectorized env (OmniGibson in worker processes)."""

from __future__ import annotations

import difflib
import os
from typing import Any

import numpy as np

from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.spaces import ObservationSpec
from vlarl.envs.substep import SubStepResult, SubStepVectorEnv
from vlarl.errors import ConfigError, ContractError
from vlarl_behavior import omni_config, preflight, robot, tasks
from vlarl_behavior.pool import WorkerPool
from vlarl_behavior.register import BehaviorEnvConfig
from vlarl_behavior.worker import WorkerSpec


def _validate(cfg: BehaviorEnvConfig) -> list[str]:
    for key in (
        "num_envs",
        "envs_per_worker",
        "image_size",
        "max_episode_steps",
        "head_resolution",
        "wrist_resolution",
    ):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"env.{key}={getattr(cfg, key)} must be >= 1.", f"Set env.{key} to a positive integer.")
    phys, rend, act = cfg.physics_frequency, cfg.rendering_frequency, cfg.action_frequency
    if min(phys, rend, act) <= 0 or phys % rend or rend % act:
        raise ConfigError(
            f"Frequencies physics={phys}, rendering={rend}, action={act} Hz are inconsistent.",
            "OmniGibson needs physics_frequency a multiple of rendering_frequency, itself a multiple of "
            "action_frequency (e.g. 120 / 30 / 30).",
        )
    tasks.check_activity(cfg.activity_name)
    keys = list(cfg.proprio_obs) if cfg.proprio_obs is not None else list(robot.DEFAULT_PROPRIO_OBS)
    for key in keys:
        if key not in robot.PROPRIO_DIMS:
            close = difflib.get_close_matches(key, list(robot.PROPRIO_DIMS), n=3)
            raise ConfigError(
                f"Unknown R1 Pro proprioception key {key!r} in env.proprio_obs.",
                f"{'Did you mean ' + ', '.join(close) + '? ' if close else ''}Valid keys: {', '.join(robot.PROPRIO_DIMS)}.",
            )
    if not keys:
        raise ConfigError("env.proprio_obs is empty.", "List at least one key, or null for the full layout.")
    return keys


class BehaviorChunkedEnv(SubStepVectorEnv):
    """``num_envs`` OmniGibson envs of one activity, ``envs_per_worker`` per spawned worker."""

    def __init__(self, cfg: BehaviorEnvConfig) -> None:
        proprio_keys = _validate(cfg)
        # Everything that can be missing is checked here, before any process is spawned.
        preflight.check(cfg.gpu_id, cfg.allow_non_rtx_gpu)
        data_path = os.environ["OMNIGIBSON_DATA_PATH"]
        scene, files = tasks.resolve_instances(
            data_path, cfg.activity_name, cfg.activity_definition_id, cfg.scene_model, list(cfg.instance_ids)
        )
        super().__init__(cfg.num_envs, cfg.max_episode_steps)
        self.cfg = cfg
        self.scene_model = scene
        self.task_description = tasks.describe(
            cfg.activity_name, cfg.task_description, cfg.task_descriptions_file, data_path
        )
        self.action_spec = robot.action_spec()
        state_dim = sum(robot.PROPRIO_DIMS[k] for k in proprio_keys)
        side = cfg.image_size
        self.observation_spec = ObservationSpec(
            states=(state_dim,), images=(3, side, side), wrist_images=(2, 3, side, side)
        )
        self._rng = np.random.default_rng()

        # OmniGibson's own timeout is set past ours: vlarl truncates at max_episode_steps.
        og_cfg = omni_config.build(
            activity=cfg.activity_name,
            definition_id=cfg.activity_definition_id,
            instance_id=cfg.instance_ids[0],
            scene_model=scene,
            proprio_obs=proprio_keys,
            max_steps=cfg.max_episode_steps + 1,
            physics_frequency=cfg.physics_frequency,
            action_frequency=cfg.action_frequency,
            rendering_frequency=cfg.rendering_frequency,
            overrides=cfg.omni_overrides,
        )
        sizes = [min(cfg.envs_per_worker, cfg.num_envs - s) for s in range(0, cfg.num_envs, cfg.envs_per_worker)]
        self._owner = np.repeat(np.arange(len(sizes)), sizes)
        self._row = np.concatenate([np.arange(n) for n in sizes])
        specs = [
            WorkerSpec(
                num_envs=n,
                omni_config=og_cfg,
                instance_files={i: str(p) for i, p in files.items()},
                image_size=side,
                head_resolution=cfg.head_resolution,
                wrist_resolution=cfg.wrist_resolution,
                state_dim=state_dim,
                settle_steps=cfg.settle_steps,
                isolate_resets=cfg.isolate_resets,
                gpu_id=cfg.gpu_id,
            )
            for n in sizes
        ]
        self.pool = WorkerPool(specs, cfg.startup_timeout, cfg.step_timeout)
        self.pool.start(cfg.startup_retries, cfg.startup_retry_delay, cfg.startup_backoff)
        self._closed = False

    @property
    def worker_infos(self) -> list[dict[str, Any]]:
        return self.pool.infos

    # ------------------------------------------------------------------ dispatch
    def _split(self, ids: np.ndarray) -> dict[int, tuple[np.ndarray, list[int]]]:
        """worker -> (positions in ``ids``, local rows)."""
        out: dict[int, tuple[np.ndarray, list[int]]] = {}
        for w in np.unique(self._owner[ids]):
            pos = np.flatnonzero(self._owner[ids] == w)
            out[int(w)] = (pos, [int(r) for r in self._row[ids[pos]]])
        return out

    def _gather(self, ids: np.ndarray, plan: dict[int, Any], replies: dict[int, dict[str, Any]]) -> dict[str, Any]:
        first = next(iter(replies.values()))
        out = {k: np.zeros((len(ids), *v.shape[1:]), dtype=v.dtype) for k, v in first.items()}
        for w, (pos, _rows) in plan.items():
            for k, v in replies[w].items():
                out[k][pos] = v
        return out

    def _batch(self, arrays: dict[str, Any], n: int) -> ObsBatch:
        return {
            "images": arrays["images"],
            "wrist_images": arrays["wrist_images"],
            "states": arrays["states"],
            "task_descriptions": [self.task_description] * n,
        }

    # ------------------------------------------------------------------ SubStepVectorEnv
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsBatch, dict[str, Any]]:
        # Autoresets draw their instance from this generator, so a seeded run is reproducible end to end.
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        return super().reset(seed, options)

    def reset_envs(self, ids: np.ndarray, seeds: list[int | None], options: dict[str, Any]) -> ObsBatch:
        choices = self.cfg.instance_ids
        # Same seed -> same cached instance -> same initial state (GRPO groups share a seed).
        inst = np.array([choices[s % len(choices)] if s is not None else int(self._rng.choice(choices)) for s in seeds])
        plan = self._split(np.asarray(ids))
        replies = self.pool.call(
            {w: ("reset", rows, [int(x) for x in inst[pos]]) for w, (pos, rows) in plan.items()}, "reset"
        )
        return self._batch(self._gather(np.asarray(ids), plan, replies), len(ids))

    def step_envs(self, ids: np.ndarray, actions: np.ndarray) -> SubStepResult:
        actions = np.asarray(actions, dtype=np.float32)
        if actions.ndim != 2 or actions.shape[1] != robot.ACTION_DIM:
            raise ContractError(
                f"BEHAVIOR R1 Pro actions have {robot.ACTION_DIM} dims per step, got shape {tuple(actions.shape)}.",
                "Lay actions out as base(x, y, yaw) 3, torso 4, left arm 7, left gripper 1, right arm 7, "
                "right gripper 1 (see env.action_spec.names).",
            )
        if not np.isfinite(actions).all():
            raise ContractError("Actions contain NaN or inf.", "Check the policy's outputs and normalization stats.")
        actions = np.clip(actions, self.action_spec.low, self.action_spec.high)
        ids = np.asarray(ids)
        plan = self._split(ids)
        replies = self.pool.call({w: ("step", rows, actions[pos]) for w, (pos, rows) in plan.items()}, "step")
        out = self._gather(ids, plan, replies)
        success = out["success"].astype(bool)
        terminated = np.zeros_like(success) if self.cfg.ignore_terminations else out["terminated"] & success
        # Other OmniGibson termination conditions (e.g. the robot falling) end the episode without success.
        failed = out["terminated"] & ~success
        return SubStepResult(
            observations=self._batch(out, len(ids)),
            rewards=(self.cfg.reward_coef * success).astype(np.float32),
            terminations=terminated | failed,
            truncations=out["truncated"],
            successes=success,
        )

    def render_frames(self) -> np.ndarray | None:
        return (
            None
            if self.current_observations is None
            else self.current_observations["images"].transpose(0, 2, 3, 1).copy()
        )

    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self.pool.stop()


def make_env(cfg: BehaviorEnvConfig) -> BehaviorChunkedEnv:
    return BehaviorChunkedEnv(cfg)
