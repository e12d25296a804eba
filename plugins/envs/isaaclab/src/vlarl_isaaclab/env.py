"""The ``isaaclab`` env in the main process: a thin proxy to the simulator worker.

Requirements and the task id are checked here, before anything is spawned.
The worker runs on vlarl's core pool; tensors travel as raw bytes (through
the host's memory) and come back on the env's device.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import numpy as np
import torch

from vlarl.contracts.env import GROUP_SIZE_OPTION, ChunkedVectorEnv, ChunkStep
from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.envs.pool import WorkerFailure, WorkerPool, WorkerSpec
from vlarl.errors import ConfigError, ContractError, PluginError
from vlarl.plugins.registry import Registry, get_registry
from vlarl_isaaclab import versions
from vlarl_isaaclab.register import REQUIREMENTS, IsaacLabEnvConfig
from vlarl_isaaclab.taskdecl import ProvidedTask, TaskDecl, collect_tasks


def check_requirements() -> None:
    missing = [r for r in REQUIREMENTS if r.missing() is not None]
    if missing:
        lines = "\n".join(f"- {r.missing()}; fix: {r.fix}" for r in missing)
        raise PluginError(
            f"The env 'isaaclab' cannot start; missing:\n{lines}",
            "Install or set what is listed above, then check with 'vlarl doctor'.",
        )


def resolve_task(cfg: IsaacLabEnvConfig, registry: Registry | None = None) -> ProvidedTask:
    table = collect_tasks(registry or get_registry())
    if cfg.task not in table.by_name and cfg.task_module:
        return ProvidedTask(
            TaskDecl(id=cfg.task, module=cfg.task_module, description=cfg.task_description or cfg.task), "config"
        )
    return table.resolve(cfg.task)


def _action_spec(decl: TaskDecl) -> ActionSpec:
    dims = tuple(
        ActionDim(name, lo, hi, "gripper" if i == decl.gripper_index else "continuous")
        for i, (name, lo, hi) in enumerate(zip(decl.action_names, decl.action_low, decl.action_high))
    )
    return ActionSpec(dims, decl.gripper if decl.gripper_index is not None else "none")  # type: ignore[arg-type]


def _to_device(x: Any, device: Any) -> Any:
    """Wire arrays -> torch tensors on the env's device (task descriptions and other plain data as they are)."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x).to(device)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


class IsaacLabVectorEnv(ChunkedVectorEnv):
    """One batched IsaacLab env (``num_envs`` sub-envs) living in a spawned worker."""

    def __init__(self, cfg: IsaacLabEnvConfig, registry: Registry | None = None, seed: int = 0) -> None:
        check_requirements()
        provided = resolve_task(cfg, registry)
        decl = provided.decl
        self.cfg = cfg
        self.task = provided
        self.num_envs = cfg.num_envs
        self.max_episode_steps = cfg.max_episode_steps or decl.max_episode_steps
        self.action_spec = _action_spec(decl)
        packages = list(dict.fromkeys([*([decl.module] if decl.module else []), *cfg.extra_task_packages]))
        generation = versions.detect().generation
        if cfg.cfg_overrides and generation < 3:
            raise ConfigError(
                f"env.cfg_overrides={cfg.cfg_overrides} needs IsaacLab 3.x (parse_env_cfg(overrides=...)); "
                f"the installed IsaacLab is {versions.detect().version or '2.x'}.",
                "Remove env.cfg_overrides, or set the values in the task's env cfg class.",
            )
        spec = {
            "task": cfg.task,
            "decl": decl.to_dict(),
            "packages": packages,
            "device": cfg.device,
            "num_envs": cfg.num_envs,
            "image_size": cfg.image_size,
            "wrist_image_size": cfg.wrist_image_size,
            "seed": seed,
            "max_episode_steps": self.max_episode_steps,
            "description": cfg.task_description or decl.description or decl.id,
            "launcher_kwargs": dict(cfg.launcher_kwargs),
            "cfg_overrides": list(cfg.cfg_overrides),
            "generation": generation,
        }
        # vlarl's core pool: a fresh interpreter (Isaac Sim cannot be forked), timeouts, the wire.
        self._pool = WorkerPool(
            [WorkerSpec("vlarl_isaaclab.worker:IsaacLabWorker", {"spec": spec})], cfg.startup_timeout_s,
            max_restarts=0, label=f"IsaacLab '{cfg.task}'",
        )  # fmt: skip
        self._closed = False
        try:
            info = self._pool.start()[0]
        except WorkerFailure as exc:
            self._closed = True
            raise self._died(exc, "start") from None
        self.device = torch.device(info["device"])
        shapes = {k: tuple(v) for k, v in info["shapes"].items()}
        self.observation_spec = ObservationSpec(
            states=shapes.get("states"), images=shapes.get("images"), wrist_images=shapes.get("wrist_images")
        )

    # ------------------------------------------------------------------ plumbing
    def _died(self, exc: WorkerFailure, what: str) -> PluginError:
        return PluginError(
            f"The IsaacLab worker for task '{self.cfg.task}' {exc.reason} during {what}.",
            "Check the worker's output above (Isaac Sim logs), the GPU driver, and env.startup_timeout_s / "
            "env.step_timeout_s.",
        )

    @property
    def worker_pid(self) -> int | None:
        return None if self._closed else self._pool.pids[0]

    def _call(self, cmd: str, *args: Any, timeout: float) -> Any:
        if self._closed:
            raise ContractError("The IsaacLab env is closed.", "Create a new env.")
        try:
            return _to_device(self._pool[0].call(cmd, *args, timeout=timeout), self.device)
        except WorkerFailure as exc:
            self.close()
            raise self._died(exc, cmd) from None

    # ------------------------------------------------------------------ contract
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        group = (options or {}).get(GROUP_SIZE_OPTION)
        obs = self._call("reset", seed, group, timeout=self.cfg.step_timeout_s)
        return obs, {}

    def chunk_step(self, actions: Any) -> ChunkStep:
        if not isinstance(actions, torch.Tensor):
            actions = torch.as_tensor(np.asarray(actions, dtype=np.float32))
        n, a = self.num_envs, self.action_spec.dim
        if actions.ndim != 3 or actions.shape[0] != n or actions.shape[2] != a:
            raise ContractError(
                f"Actions must have shape [num_envs={n}, chunk, action_dim={a}], got {tuple(actions.shape)}.",
                "Check the policy's action_dim and chunk length against the env's action_spec.",
            )
        out = self._call("chunk", actions.to(torch.float32), timeout=self.cfg.step_timeout_s)
        return ChunkStep(
            out["observations"], out["rewards"], out["terminations"], out["truncations"], out["valid"], out["infos"]
        )

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._pool.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def make_env(config: IsaacLabEnvConfig | None = None, **overrides: Any) -> IsaacLabVectorEnv:
    """Plugin factory: ``make_env(config_instance)``; keyword overrides for scripts and tests."""
    cfg = dataclasses.replace(config or IsaacLabEnvConfig(), **overrides)
    return IsaacLabVectorEnv(cfg)
